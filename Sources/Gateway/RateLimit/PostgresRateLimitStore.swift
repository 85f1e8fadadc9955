import Foundation
import PostgresClient

/// The central budget in PostgreSQL: `rate_limits` and its functions (migrations 0003, 0007).
struct PostgresRateLimitStore: RateLimitStore {
    let pool: PostgresPool

    func reserve(api: String, rate: Double, count: Int, maxWait: Duration) async throws -> RateLimitReservation {
        let maxWaitMilliseconds = max(0, maxWait.milliseconds)
        let row = try await pool.query("""
            SELECT granted, first_offset_us, spacing_us, next_free_us, factor, now_us
            FROM rate_limit_reserve(\(api), \(rate), \(count)::integer, \(maxWaitMilliseconds)::integer)
            """).rows[0]
        return try Self.decodeReservation(row)
    }

    /// A row of `rate_limit_reserve`'s columns (granted, first_offset_us, spacing_us, next_free_us, factor, now_us).
    static func decodeReservation(_ row: PostgresRow) throws -> RateLimitReservation {
        RateLimitReservation(
            granted: try row.int("granted"), firstOffset: .microseconds(try row.double("first_offset_us")),
            spacing: .microseconds(try row.double("spacing_us")), nextFree: .microseconds(try row.double("next_free_us")),
            factor: try row.double("factor"), databaseNowMicroseconds: try row.double("now_us"))
    }

    func slowDownAll() async throws {
        _ = try await pool.query("SELECT rate_limit_slow_down_all()")
    }

    func pauseAll(seconds: Int) async throws {
        _ = try await pool.query("SELECT rate_limit_pause_all(\(seconds)::integer)")
    }

    /// Where each API's budget stands now, as `rate_limit_reserve` would see it.
    struct State: Sendable {
        var api: String
        /// Share of the configured rate in force (recovering 10 % a second, as in `rate_limit_reserve`).
        var factor: Double
        /// How far ahead the budget is already reserved.
        var reservedAheadSeconds: Double
        /// Set while a 70050 lock-out pauses every call.
        var pausedForSeconds: Double?
    }

    func states() async throws -> [State] {
        try await pool.query("""
            SELECT api,
                   least(1.0, factor + 0.1 * greatest(0, extract(epoch FROM clock_timestamp() - factor_at)))::float8 AS factor,
                   greatest(0, extract(epoch FROM tat - clock_timestamp()))::float8 AS ahead_s,
                   CASE WHEN paused_until > clock_timestamp()
                        THEN extract(epoch FROM paused_until - clock_timestamp())::float8 END AS paused_s
            FROM rate_limits ORDER BY api
            """).rows.map { row in
            State(api: try row.string("api"), factor: try row.double("factor"), reservedAheadSeconds: try row.double("ahead_s"),
                  pausedForSeconds: try row.optionalDouble("paused_s"))
        }
    }
}
