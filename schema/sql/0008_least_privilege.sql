-- Least privilege (issue 11): the role `serve`, `import` and `reconcile` run as
-- may append to the audit trail but not rewrite it. That role owns nothing and is
-- granted by `account-gateway migrate --service-role NAME` (Migrator.grant); what
-- it cannot be granted is done here, by the owner:
--  * the chain triggers run as their owner (SECURITY DEFINER), so the service role
--    needs no privilege on audit_chain at all; their search_path is fixed to this
--    schema, then pg_temp last, so no temporary table of a caller's can stand in
--    for audit_chain;
--  * nobody but the owner may touch audit_chain directly.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION audit_events_chain() SECURITY DEFINER SET search_path = %I, pg_temp',
                   current_schema());
    EXECUTE format('ALTER FUNCTION audit_events_chain_head() SECURITY DEFINER SET search_path = %I, pg_temp',
                   current_schema());
END
$$;
REVOKE ALL ON FUNCTION audit_events_chain(), audit_events_chain_head() FROM PUBLIC;
REVOKE ALL ON audit_chain FROM PUBLIC;
