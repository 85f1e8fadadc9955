-- GET /audit pages newest first (ORDER BY id DESC) under any one filter. user_id
-- and caller had an index each; action and outcome walked the table (issue 11:
-- 26-38 ms at 200,000 events, linear in size). Each filter now has an index that
-- also serves the id order, so a page reads about `limit` index entries.
CREATE INDEX audit_events_action ON audit_events (action, id);
CREATE INDEX audit_events_outcome ON audit_events (outcome, id);
