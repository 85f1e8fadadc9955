import Foundation
import PostgresClient

/// Where the central budget lives. The real one is PostgreSQL (`rate_limits`,
/// schema/sql/0003); tests of the queueing logic use a fake.
protocol RateLimitStore: Sendable {
    /// Reserves up to `count` consecutive call slots, none further than `maxWait` away.
    func reserve(api: String, rate: Double, count: Int, maxWait: Duration) async throws -> RateLimitReservation
    /// Tencent answered "too fast": every replica halves its pace on every API, then recovers.
    func slowDownAll() async throws
    /// Tencent answered 70050: nobody calls any API for `seconds`.
    func pauseAll(seconds: Int) async throws
}

/// A run of slots, as offsets from the moment the database reserved them.
struct RateLimitReservation: Sendable, Equatable {
    var granted: Int
    var firstOffset: Duration
    var spacing: Duration
    /// When nothing (more) was granted: how far away the next free slot is.
    var nextFree: Duration
    /// The adaptive share of the configured rate in force.
    var factor: Double
    /// The database's clock when it reserved, in microseconds since 1970.
    var databaseNowMicroseconds: Double
}

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
