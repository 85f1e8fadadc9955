import Foundation
import Synchronization

/// Counts per minute for the last hour, and totals since start, by key: what
/// `GET /status` draws (imports by outcome, upstream calls by API and code).
/// The totals are the same numbers `/metrics` exposes for this replica.
final class RecentCounts<Key: Hashable & Sendable>: Sendable {

    private struct State {
        /// Counts per key for minutes `[newestMinute - recentMinutes + 1, newestMinute]`, oldest first.
        var buckets: [Key: [Int]] = [:]
        var newestMinute = 0
        var totals: [Key: Int] = [:]
    }

    private let state = Mutex(State())

    func add(_ key: Key, now: Date = Date()) {
        let minute = Self.minute(of: now)
        state.withLock { state in
            Self.advance(&state, to: minute)
            state.buckets[key, default: Array(repeating: 0, count: recentMinutes)][recentMinutes - 1] += 1
            state.totals[key, default: 0] += 1
        }
    }

    struct Snapshot: Sendable, Equatable {
        /// Per key, counts per minute, oldest first; the last is the current minute.
        var perMinute: [Key: [Int]]
        var totals: [Key: Int]
    }

    func snapshot(now: Date = Date()) -> Snapshot {
        state.withLock { state in
            Self.advance(&state, to: Self.minute(of: now))
            return Snapshot(perMinute: state.buckets, totals: state.totals)
        }
    }

    private static func minute(of date: Date) -> Int { Int(date.timeIntervalSince1970 / 60) }

    /// Shifts every series so its last bucket is `minute`, dropping what falls out of the hour.
    private static func advance(_ state: inout State, to minute: Int) {
        if state.newestMinute == 0 { state.newestMinute = minute }
        let shift = minute - state.newestMinute
        guard shift > 0 else { return }
        state.newestMinute = minute
        for (key, counts) in state.buckets {
            state.buckets[key] = shift >= recentMinutes ? Array(repeating: 0, count: recentMinutes)
                : Array(counts.dropFirst(shift)) + Array(repeating: 0, count: shift)
        }
    }
}

/// Minutes `RecentCounts` keeps.
let recentMinutes = 60

/// An upstream answer as `/status` counts it: the API and Tencent's code (as in
/// `gateway_upstream_requests_total`: "0" for success, "transport" for none).
struct UpstreamAnswer: Hashable, Sendable, Comparable {
    var api: String
    var code: String

    var isSuccess: Bool { code == "0" }

    static func < (a: Self, b: Self) -> Bool { (a.api, a.code) < (b.api, b.code) }
}
