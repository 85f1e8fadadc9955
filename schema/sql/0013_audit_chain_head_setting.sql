-- The chain trigger, cheaper per event (issue 7: audit writes >= 50,000 events/s).
-- The same chain, canonical text and hash, byte for byte, as 0012. What changes:
--  * the per-event trigger runs as the inserting role, without SECURITY DEFINER
--    and its SET search_path, which saved and restored settings around every
--    event. Only the first event of a transaction needs the owner's rights, to
--    lock and read the head: audit_chain_lock() does that, as the owner, with the
--    search_path fixed (a temporary audit_chain still cannot stand in). The
--    trigger names no table, and calls audit_chain_lock() by its schema; functions
--    and operators are never looked up in pg_temp, and the service role may create
--    nothing (Migrator.grant), so it cannot shadow what the trigger calls;
--  * the head travels between the events of a transaction in one transaction-local
--    setting, `audit.chain_head` = "<xid> <last id> <last hash>", read once and
--    written once per event (0004-0012 read three settings and wrote two), and
--    written by assignment, a simple expression, not by PERFORM, which ran a
--    query through the executor for every event;
--  * `at` is clock_timestamp() as it is: a timestamptz holds microseconds, so
--    0012's date_trunc('microseconds', ...) changed nothing.
-- The xid keeps its meaning: a head in the setting is trusted only inside the
-- transaction that took the lock. A session that forged it could at most break
-- the chain where `audit verify` sees it, as before.
-- Measured (200 events per INSERT, one client, alternating with 0012's trigger in
-- the same hour): `throughput_bench.py --only audit-write` 37,500-41,500 events/s
-- before, 43,000-44,800 after; the same table without any trigger takes 73,000.

CREATE FUNCTION audit_chain_lock(OUT last_id bigint, OUT last_hash text)
LANGUAGE sql SECURITY DEFINER AS $$
    SELECT c.last_id, c.last_hash FROM audit_chain c WHERE singleton FOR UPDATE
$$;

DO $migration$
BEGIN
    EXECUTE format('ALTER FUNCTION audit_chain_lock() SET search_path = %I, pg_temp', current_schema());
    EXECUTE format($create$
CREATE OR REPLACE FUNCTION audit_events_chain() RETURNS trigger
LANGUAGE plpgsql AS $chain$
DECLARE
    xid       text := txid_current()::text;
    head      text := current_setting('audit.chain_head', true);
    last_id   bigint;
    last_hash text;
BEGIN
    IF head IS NULL OR split_part(head, ' ', 1) <> xid THEN
        SELECT h.last_id, h.last_hash INTO last_id, last_hash FROM %I.audit_chain_lock() h;
    ELSE
        last_id := split_part(head, ' ', 2)::bigint;
        last_hash := split_part(head, ' ', 3);
    END IF;
    NEW.id := last_id + 1;
    NEW.at := clock_timestamp();
    NEW.prev_hash := last_hash;
    NEW.hash := encode(sha256(convert_to(concat_ws('|',
        NEW.prev_hash,
        NEW.id::text,
        ((extract(epoch FROM NEW.at) * 1000000)::bigint)::text,
        CASE WHEN NEW.request_id IS NULL THEN '-' ELSE octet_length(NEW.request_id) || ':' || NEW.request_id END,
        CASE WHEN NEW.caller IS NULL THEN '-' ELSE octet_length(NEW.caller) || ':' || NEW.caller END,
        octet_length(NEW.action) || ':' || NEW.action,
        CASE WHEN NEW.user_id IS NULL THEN '-' ELSE octet_length(NEW.user_id) || ':' || NEW.user_id END,
        CASE WHEN NEW.chat_user_id IS NULL THEN '-' ELSE octet_length(NEW.chat_user_id) || ':' || NEW.chat_user_id END,
        octet_length(NEW.outcome) || ':' || NEW.outcome,
        coalesce(NEW.http_status::text, '-'),
        coalesce(NEW.tencent_error_code::text, '-'),
        CASE WHEN NEW.tencent_error_info IS NULL THEN '-' ELSE octet_length(NEW.tencent_error_info) || ':' || NEW.tencent_error_info END,
        coalesce(NEW.attempt::text, '-'),
        coalesce(NEW.latency_ms::text, '-'),
        CASE WHEN NEW.idempotency_key IS NULL THEN '-' ELSE octet_length(NEW.idempotency_key) || ':' || NEW.idempotency_key END,
            -- Since 0012, and only when present: events without a route hash as before.
        CASE WHEN NEW.route IS NULL THEN NULL ELSE octet_length(NEW.route) || ':' || NEW.route END),
        'UTF8')), 'hex');
    head := set_config('audit.chain_head', xid || ' ' || NEW.id || ' ' || NEW.hash, true);
    RETURN NEW;
END
$chain$;
$create$, current_schema());
    -- Back to the rights of the role that inserts (0008 and 0012 made it the owner's).
    ALTER FUNCTION audit_events_chain() SECURITY INVOKER RESET ALL;
END
$migration$;

-- Once per statement, as before, and still as the owner: it writes audit_chain.
CREATE OR REPLACE FUNCTION audit_events_chain_head() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    head text := current_setting('audit.chain_head', true);
BEGIN
    IF split_part(head, ' ', 1) = txid_current()::text THEN
        UPDATE audit_chain SET last_id = split_part(head, ' ', 2)::bigint, last_hash = split_part(head, ' ', 3)
        WHERE singleton;
    END IF;
    RETURN NULL;
END
$$;

DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION audit_events_chain_head() SECURITY DEFINER SET search_path = %I, pg_temp',
                   current_schema());
END
$$;
REVOKE ALL ON FUNCTION audit_chain_lock(), audit_events_chain_head() FROM PUBLIC;

-- Whoever may append may take the head's lock: the roles granted INSERT on
-- audit_events before this migration (a service role; Migrator.grant does the same
-- for roles granted later).
DO $$
DECLARE
    grantee name;
BEGIN
    FOR grantee IN
        SELECT DISTINCT g.grantee FROM information_schema.role_table_grants g
        WHERE g.table_schema = current_schema() AND g.table_name = 'audit_events' AND g.privilege_type = 'INSERT'
            AND g.grantee <> current_user AND g.grantee <> 'PUBLIC'
    LOOP
        EXECUTE format('GRANT EXECUTE ON FUNCTION audit_chain_lock() TO %I', grantee);
    END LOOP;
END
$$;
