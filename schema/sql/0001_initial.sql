-- account-gateway: the initial schema.
-- Applied by `account-gateway migrate` inside one transaction, under an advisory lock.

-- Internal services that may call the gateway. Only the SHA-256 of a token is stored.
CREATE TABLE callers (
    name          text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$'),
    token_sha256  bytea NOT NULL UNIQUE CHECK (octet_length(token_sha256) = 32),
    roles         text[] NOT NULL CHECK (roles <@ ARRAY['importer', 'auditor']::text[] AND cardinality(roles) > 0),
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);

-- The mapping of app users to Chat accounts, and the state of their import.
-- A row is the durable intent: it is committed (status 'pending') before any upstream call.
CREATE TABLE accounts (
    user_id           text PRIMARY KEY,
    chat_user_id      text NOT NULL UNIQUE CHECK (chat_user_id ~ '^[A-Za-z0-9_-]{1,32}$'),
    nick              text CHECK (octet_length(nick) <= 500),
    face_url          text CHECK (octet_length(face_url) <= 500),
    status            text NOT NULL CHECK (status IN ('pending', 'imported', 'failed')),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    imported_at       timestamptz,
    attempts          integer NOT NULL DEFAULT 0,
    last_error_code   integer,
    last_error_info   text,
    -- Delivery bookkeeping: when the next attempt is due, and who holds it until when.
    next_attempt_at   timestamptz,
    lease_owner       text,
    lease_until       timestamptz,
    -- Whether Tencent has ever confirmed this account: a profile change of an
    -- existing account must go through multiaccount_import, which updates profiles.
    upstream_exists   boolean NOT NULL DEFAULT false,
    -- Who asked last, so the upstream call's audit event can name the request behind it.
    requested_by      text,
    request_id        text
);
CREATE INDEX accounts_pending_due ON accounts (next_attempt_at) WHERE status = 'pending';

-- The audit trail: append-only, hash-chained. id, at, prev_hash and hash are
-- assigned by the trigger below, under a lock on audit_chain, so the chain's
-- order is the order of ids and no writer can forge a hash.
CREATE TABLE audit_chain (
    singleton  boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    last_id    bigint NOT NULL,
    last_hash  text NOT NULL
);
INSERT INTO audit_chain (last_id, last_hash) VALUES (0, repeat('0', 64));

CREATE TABLE audit_events (
    id                  bigint PRIMARY KEY,
    at                  timestamptz NOT NULL,
    request_id          text,
    caller              text,
    action              text NOT NULL CHECK (action IN ('account.import', 'account.batch_import', 'account.lookup',
                            'audit.query', 'upstream.account_import', 'upstream.multiaccount_import', 'auth.denied')),
    user_id             text,
    chat_user_id        text,
    outcome             text NOT NULL,
    http_status         integer,
    tencent_error_code  integer,
    tencent_error_info  text,
    attempt             integer,
    latency_ms          integer,
    idempotency_key     text,
    prev_hash           text NOT NULL,
    hash                text NOT NULL
);
CREATE INDEX audit_events_user_id ON audit_events (user_id, id);
CREATE INDEX audit_events_caller ON audit_events (caller, id);
CREATE INDEX audit_events_at ON audit_events (at);

-- The canonical form that is hashed: every field length-prefixed, so no value can
-- imitate a separator. `audit verify` recomputes exactly this in Swift.
CREATE FUNCTION audit_canonical(e audit_events) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws('|',
        e.prev_hash,
        e.id::text,
        ((extract(epoch FROM e.at) * 1000000)::bigint)::text,
        CASE WHEN e.request_id IS NULL THEN '-' ELSE octet_length(e.request_id) || ':' || e.request_id END,
        CASE WHEN e.caller IS NULL THEN '-' ELSE octet_length(e.caller) || ':' || e.caller END,
        octet_length(e.action) || ':' || e.action,
        CASE WHEN e.user_id IS NULL THEN '-' ELSE octet_length(e.user_id) || ':' || e.user_id END,
        CASE WHEN e.chat_user_id IS NULL THEN '-' ELSE octet_length(e.chat_user_id) || ':' || e.chat_user_id END,
        octet_length(e.outcome) || ':' || e.outcome,
        coalesce(e.http_status::text, '-'),
        coalesce(e.tencent_error_code::text, '-'),
        CASE WHEN e.tencent_error_info IS NULL THEN '-' ELSE octet_length(e.tencent_error_info) || ':' || e.tencent_error_info END,
        coalesce(e.attempt::text, '-'),
        coalesce(e.latency_ms::text, '-'),
        CASE WHEN e.idempotency_key IS NULL THEN '-' ELSE octet_length(e.idempotency_key) || ':' || e.idempotency_key END)
$$;

CREATE FUNCTION audit_events_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head audit_chain%ROWTYPE;
BEGIN
    SELECT * INTO head FROM audit_chain WHERE singleton FOR UPDATE;
    NEW.id := head.last_id + 1;
    -- Microsecond precision: what is hashed must survive the round trip exactly.
    NEW.at := date_trunc('microseconds', clock_timestamp());
    NEW.prev_hash := head.last_hash;
    NEW.hash := encode(sha256(convert_to(audit_canonical(NEW), 'UTF8')), 'hex');
    UPDATE audit_chain SET last_id = NEW.id, last_hash = NEW.hash WHERE singleton;
    RETURN NEW;
END
$$;
CREATE TRIGGER audit_events_chain BEFORE INSERT ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_chain();

-- Append-only, even for the table's owner: no UPDATE, DELETE or TRUNCATE privilege,
-- and triggers that refuse them for anyone who could grant them back.
CREATE FUNCTION audit_events_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change();
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM PUBLIC;
REVOKE UPDATE, DELETE, TRUNCATE ON audit_events FROM CURRENT_USER;
