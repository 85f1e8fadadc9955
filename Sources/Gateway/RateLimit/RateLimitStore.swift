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

