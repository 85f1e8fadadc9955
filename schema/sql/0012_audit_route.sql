-- The route pattern of a request, on the events that need it: `auth.denied`
-- names the route that was refused (issue 11), e.g. `/accounts/{user_id}`.
-- The hash covers it, appended to the canonical form only when present
-- (concat_ws skips NULL), so every event written before keeps its hash and
-- `audit verify` checks old and new alike.
ALTER TABLE audit_events ADD COLUMN route text;

CREATE OR REPLACE FUNCTION audit_canonical(e audit_events) RETURNS text
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
        CASE WHEN e.idempotency_key IS NULL THEN '-' ELSE octet_length(e.idempotency_key) || ':' || e.idempotency_key END,
        CASE WHEN e.route IS NULL THEN NULL ELSE octet_length(e.route) || ':' || e.route END)
$$;

CREATE OR REPLACE FUNCTION audit_events_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    xid       text := txid_current()::text;
    last_id   bigint;
    last_hash text;
BEGIN
    IF current_setting('audit.chain_xid', true) IS DISTINCT FROM xid THEN
        SELECT c.last_id, c.last_hash INTO last_id, last_hash FROM audit_chain c WHERE singleton FOR UPDATE;
        PERFORM set_config('audit.chain_xid', xid, true);
    ELSE
        last_id := current_setting('audit.chain_last_id')::bigint;
        last_hash := current_setting('audit.chain_last_hash');
    END IF;
    NEW.id := last_id + 1;
    -- Microsecond precision: what is hashed must survive the round trip exactly.
    NEW.at := date_trunc('microseconds', clock_timestamp());
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
        -- New in 0012, and only when present: events without a route hash as before.
        CASE WHEN NEW.route IS NULL THEN NULL ELSE octet_length(NEW.route) || ':' || NEW.route END),
        'UTF8')), 'hex');
    PERFORM set_config('audit.chain_last_id', NEW.id::text, true), set_config('audit.chain_last_hash', NEW.hash, true);
    RETURN NEW;
END
$$;

-- CREATE OR REPLACE resets what 0008 set: the trigger runs as its owner again,
-- with the search_path fixed.
DO $$
BEGIN
    EXECUTE format('ALTER FUNCTION audit_events_chain() SECURITY DEFINER SET search_path = %I, pg_temp',
                   current_schema());
END
$$;
REVOKE ALL ON FUNCTION audit_events_chain() FROM PUBLIC;
