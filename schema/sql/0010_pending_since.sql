-- When each pending account became pending, for the backlog's age (`/status`,
-- gateway_pending_oldest_seconds, the PendingBacklogOld alert). updated_at moves
-- on every delivery attempt and created_at predates a requeue, so neither says
-- how long an intent has waited. New rows get now(); a row that turns pending
-- again (requeued, reconciled) gets it from the trigger, whose WHEN is checked
-- without calling a function for every other update.
ALTER TABLE accounts ADD COLUMN pending_since timestamptz DEFAULT now();
UPDATE accounts SET pending_since = updated_at WHERE status = 'pending';

CREATE FUNCTION accounts_pending_since() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.pending_since := now();
    RETURN NEW;
END
$$;
CREATE TRIGGER accounts_pending_since BEFORE UPDATE OF status ON accounts
    FOR EACH ROW WHEN (NEW.status = 'pending' AND OLD.status IS DISTINCT FROM 'pending')
    EXECUTE FUNCTION accounts_pending_since();
