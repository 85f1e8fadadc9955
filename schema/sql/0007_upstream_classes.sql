-- Every upstream answer ends somewhere (docs/UPSTREAM_ERRORS.md).

-- Answers with an undocumented code, or FailAccounts listings no single call
-- could explain, since the account was last queued: after a bounded number
-- the account ends `failed` instead of being retried forever.
ALTER TABLE accounts ADD COLUMN unexplained_attempts integer NOT NULL DEFAULT 0;

-- The circuit breaker for misconfiguration (wrong key, app, region, admin, base
-- URL), shared by every replica: while its one row exists nobody calls Tencent,
-- except one probe call whenever next_probe_at has passed; whoever takes the
-- probe moves next_probe_at on (30 s, doubling to 5 minutes after each failed
-- probe). The first success deletes the row.
CREATE TABLE upstream_breaker (
    id               boolean PRIMARY KEY DEFAULT true CHECK (id),
    opened_at        timestamptz NOT NULL DEFAULT now(),
    reason_code      integer,
    reason           text NOT NULL,
    probe_interval_s integer NOT NULL CHECK (probe_interval_s > 0),
    next_probe_at    timestamptz NOT NULL
);

-- 70050 and "too fast" concern the whole app at Tencent, not one API: pause
-- or slow every API at once.
CREATE FUNCTION rate_limit_pause_all(p_seconds integer) RETURNS void
LANGUAGE sql AS $$
    SELECT rate_limit_pause(api, p_seconds) FROM rate_limits ORDER BY api
$$;

CREATE FUNCTION rate_limit_slow_down_all() RETURNS void
LANGUAGE sql AS $$
    SELECT rate_limit_slow_down(api) FROM rate_limits ORDER BY api
$$;
