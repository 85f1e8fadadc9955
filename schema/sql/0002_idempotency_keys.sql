-- Idempotency-Key support for POST /accounts, scoped to the caller.
-- state: 'in_flight' while a request holds the key (until locked_until, after which
-- a retry may take it over), 'open' after a non-final answer (202, 5xx: the next
-- request with the same body is processed again), 'done' with the stored answer.
CREATE TABLE idempotency_keys (
    caller           text NOT NULL,
    key              text NOT NULL CHECK (octet_length(key) BETWEEN 1 AND 255),
    request_sha256   text NOT NULL,
    state            text NOT NULL CHECK (state IN ('in_flight', 'open', 'done')),
    locked_until     timestamptz,
    response_status  integer,
    response_body    text,
    created_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (caller, key)
);
CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
