-- The head's lock, cheaper per transaction (issue 7). audit_chain_lock() is
-- called once per transaction that appends events, by the first event's trigger.
-- As a LANGUAGE sql function with a SET clause it could not be inlined, and
-- PostgreSQL parsed and planned its body again on every call; in PL/pgSQL the
-- plan is kept for the session. Same query, same rights: SECURITY DEFINER, the
-- search_path fixed, EXECUTE only for the roles 0013 granted it to (CREATE OR
-- REPLACE keeps the owner and the grants).
-- Measured (2026-12-03, two fresh databases migrated alike but for this file,
-- 5,000 one-event transactions in a DO loop with synchronous_commit off, so CPU
-- and not the WAL flush, five runs each, alternating): 174-201 us a transaction
-- before, 126-155 after; with 8 events a transaction, 302-346 before, 257-312
-- after. The same INSERT into a copy of the table without triggers: 35-45 us.
DO $migration$
BEGIN
    EXECUTE format($create$
CREATE OR REPLACE FUNCTION audit_chain_lock(OUT last_id bigint, OUT last_hash text)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = %I, pg_temp AS $lock$
BEGIN
    SELECT c.last_id, c.last_hash INTO last_id, last_hash FROM audit_chain c WHERE singleton FOR UPDATE;
END
$lock$;
$create$, current_schema());
END
$migration$;
