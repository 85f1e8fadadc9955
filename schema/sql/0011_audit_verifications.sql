-- What `account-gateway audit verify` found, run by run, so that replicas can
-- expose it (gateway_audit_verify_*) and an alert can say when the trail is
-- broken or has not been verified for a day. The service role may add runs
-- and read them (Migrator.servicePrivileges), never change them.
CREATE TABLE audit_verifications (
    at               timestamptz PRIMARY KEY DEFAULT clock_timestamp(),
    intact           boolean NOT NULL,
    checked          bigint NOT NULL,
    first_broken_id  bigint,
    reason           text
);
