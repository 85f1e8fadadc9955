-- The central rate limit: one row per upstream API, shared by every replica.
-- GCRA: `tat` is the theoretical arrival time of the next free call slot.
-- A replica reserves a run of consecutive slots in one statement (on the
-- database's clock, never a replica's) and sends its calls at those times;
-- the row lock is held only for that statement, never across an upstream call.
CREATE TABLE rate_limits (
    api           text PRIMARY KEY,
    tat           timestamptz NOT NULL DEFAULT 'epoch',
    -- Adaptive slowdown after Tencent still answered "too fast" (60007...):
    -- the share of the configured rate in force at factor_at, recovering 10% per second.
    factor        double precision NOT NULL DEFAULT 1 CHECK (factor > 0 AND factor <= 1),
    factor_at     timestamptz NOT NULL DEFAULT 'epoch',
    -- After 70050 (too many failed UserSig checks) nobody calls until then.
    paused_until  timestamptz
);
INSERT INTO rate_limits (api) VALUES ('account_import'), ('multiaccount_import'), ('account_check');

-- Reserves up to p_count consecutive slots at p_rate calls per second (times the
-- adaptive factor), only as far as the first slot is at most p_max_wait_ms away
-- and the last one too. Returns how many were granted, the first slot's offset
-- from the database's now and the spacing (microseconds), how long until the next
-- free slot, and that now (microseconds since 1970) so replicas can place the
-- slots on their own clocks. p_now is for tests only.
CREATE FUNCTION rate_limit_reserve(p_api text, p_rate double precision, p_count integer, p_max_wait_ms integer,
                                   p_now timestamptz DEFAULT NULL)
RETURNS TABLE (granted integer, first_offset_us double precision, spacing_us double precision,
               next_free_us double precision, factor double precision, now_us double precision)
LANGUAGE plpgsql AS $$
DECLARE
    r        rate_limits%ROWTYPE;
    now_ts   timestamptz := coalesce(p_now, clock_timestamp());
    eff      double precision;
    spacing  double precision;
    start_ts timestamptz;
    lead_us  double precision;
    n        integer;
BEGIN
    IF p_rate <= 0 OR p_count < 0 OR p_max_wait_ms < 0 THEN
        RAISE EXCEPTION 'rate_limit_reserve: bad arguments' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO r FROM rate_limits WHERE api = p_api FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO rate_limits (api) VALUES (p_api) ON CONFLICT (api) DO NOTHING;
        SELECT * INTO r FROM rate_limits WHERE api = p_api FOR UPDATE;
    END IF;
    eff := least(1.0, r.factor + 0.1 * greatest(0, extract(epoch FROM now_ts - r.factor_at)));
    spacing := 1e6 / (p_rate * eff);
    start_ts := greatest(r.tat, now_ts, coalesce(r.paused_until, now_ts));
    lead_us := extract(epoch FROM start_ts - now_ts) * 1e6;
    n := least(p_count, greatest(0, floor((p_max_wait_ms * 1000.0 - lead_us) / spacing)::integer + 1));
    IF n > 0 THEN
        UPDATE rate_limits SET tat = start_ts + make_interval(secs => n * spacing / 1e6) WHERE api = p_api;
    END IF;
    RETURN QUERY SELECT n, lead_us, spacing, lead_us + n * spacing, eff, (extract(epoch FROM now_ts) * 1e6)::double precision;
END
$$;

-- Tencent said "too fast" anyway (another client of the app, clock skew...):
-- everyone halves the rate at once, at most once a second, and recovers gradually.
CREATE FUNCTION rate_limit_slow_down(p_api text, p_now timestamptz DEFAULT NULL) RETURNS double precision
LANGUAGE sql AS $$
    UPDATE rate_limits SET
        factor = greatest(0.1, least(1.0, factor + 0.1 * greatest(0, extract(epoch FROM coalesce(p_now, clock_timestamp()) - factor_at))) * 0.5),
        factor_at = coalesce(p_now, clock_timestamp())
    WHERE api = p_api AND factor_at < coalesce(p_now, clock_timestamp()) - interval '1 second'
    RETURNING factor
$$;

-- 70050: nobody calls this API for the given time.
CREATE FUNCTION rate_limit_pause(p_api text, p_seconds integer) RETURNS void
LANGUAGE sql AS $$
    UPDATE rate_limits SET paused_until = greatest(coalesce(paused_until, clock_timestamp()), clock_timestamp() + make_interval(secs => p_seconds))
    WHERE api = p_api
$$;
