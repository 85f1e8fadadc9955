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
        return RateLimitReservation(
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
}
