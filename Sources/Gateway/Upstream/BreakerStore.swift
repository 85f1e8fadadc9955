import Foundation
import PostgresClient

/// Where the shared circuit breaker lives: `upstream_breaker` (schema/sql/0007)
/// in production, a fake in tests of delivery. Each operation is one statement.
protocol BreakerStore: Sendable {
    /// The breaker as stored, nil when closed. `probeIn`: how long until the next probe may go.
    func read() async throws -> (open: BreakerState, probeIn: Duration)?
    /// Takes the probe if it is due (for every replica, at most one caller per interval).
    /// Returns the interval until the next one, nil when another took it or it is not due.
    func takeProbe() async throws -> Int?
    /// Opens the breaker, or after a failed probe doubles the interval (up to `maxInterval`).
    /// Returns the interval and whether this call opened it.
    func open(code: Int?, reason: String, probe: Bool, firstInterval: Int, maxInterval: Int) async throws -> (interval: Int, opened: Bool)
    /// Closes the breaker; accounts deferred meanwhile become due now. Returns whether it was open, and its code.
    func close() async throws -> (wasOpen: Bool, code: Int?)
    /// The next probe may go at once, at the first interval.
    func probeSoon(firstInterval: Int) async throws
}

/// Why the breaker is open, as stored.
struct BreakerState: Sendable, Equatable {
    var code: Int?
    var reason: String
    var openedAt: Date
}

struct PostgresBreakerStore: BreakerStore {
    let pool: PostgresPool

    func read() async throws -> (open: BreakerState, probeIn: Duration)? {
        try await pool.query("""
            SELECT reason_code, reason, opened_at,
                   greatest(0, extract(epoch FROM next_probe_at - now()) * 1000)::bigint AS probe_in_ms
            FROM upstream_breaker
            """).rows.first.map { row in
            (BreakerState(code: try row.optionalInt("reason_code"), reason: try row.string("reason"), openedAt: try row.date("opened_at")),
             .milliseconds(try row.int("probe_in_ms")))
        }
    }

    func takeProbe() async throws -> Int? {
        try await pool.query("""
            UPDATE upstream_breaker SET next_probe_at = now() + probe_interval_s * interval '1 second'
            WHERE next_probe_at <= now()
            RETURNING probe_interval_s
            """).rows.first?.int("probe_interval_s")
    }

    func open(code: Int?, reason: String, probe: Bool, firstInterval: Int, maxInterval: Int) async throws -> (interval: Int, opened: Bool) {
        let row = try await pool.query("""
            INSERT INTO upstream_breaker (reason_code, reason, probe_interval_s, next_probe_at)
            VALUES (\(code), \(reason), \(firstInterval)::integer, now() + \(firstInterval)::integer * interval '1 second')
            ON CONFLICT (id) DO UPDATE SET reason_code = EXCLUDED.reason_code, reason = EXCLUDED.reason,
                probe_interval_s = CASE WHEN \(probe) THEN least(\(maxInterval)::integer, upstream_breaker.probe_interval_s * 2)
                                        ELSE upstream_breaker.probe_interval_s END,
                next_probe_at = CASE WHEN \(probe)
                    THEN now() + least(\(maxInterval)::integer, upstream_breaker.probe_interval_s * 2) * interval '1 second'
                    ELSE upstream_breaker.next_probe_at END
            RETURNING probe_interval_s, (xmax = 0) AS opened
            """).rows.first
        return (try row?.int("probe_interval_s") ?? firstInterval, try row?.bool("opened") ?? false)
    }

    /// One statement: the breaker closes and what waited for it becomes due
    /// together, or neither happens.
    func close() async throws -> (wasOpen: Bool, code: Int?) {
        // What waited for the configuration is due now, not when its deferral ends.
        let closed = try await pool.query("""
            WITH closed AS (DELETE FROM upstream_breaker RETURNING reason_code),
            due AS (
                UPDATE accounts SET next_attempt_at = now()
                WHERE EXISTS (SELECT FROM closed) AND status = 'pending' AND next_attempt_at > now() AND lease_owner IS NULL)
            SELECT reason_code FROM closed
            """).rows.first
        guard let closed else { return (false, nil) }
        return (true, try closed.optionalInt("reason_code"))
    }

    func probeSoon(firstInterval: Int) async throws {
        _ = try await pool.query("UPDATE upstream_breaker SET next_probe_at = now(), probe_interval_s = \(firstInterval)::integer")
    }
}
