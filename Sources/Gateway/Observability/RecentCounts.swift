import Foundation
import Synchronization

/// Counts per minute for the last hour, and totals since start, by key: what
/// `GET /status` draws (imports by outcome, upstream calls by API and code).
/// The totals are the same numbers `/metrics` exposes for this replica.
final class RecentCounts: Sendable {
    /// Minutes kept.
    static let minutes = 60

    private struct State {
        /// Counts per key for minutes `[newestMinute - minutes + 1, newestMinute]`, oldest first.
        var buckets: [String: [Int]] = [:]
        var newestMinute = 0
        var totals: [String: Int] = [:]
    }

    private let state = Mutex(State())

    func add(_ key: String, now: Date = Date()) {
        let minute = Self.minute(of: now)
        state.withLock { state in
            Self.advance(&state, to: minute)
            state.buckets[key, default: Array(repeating: 0, count: Self.minutes)][Self.minutes - 1] += 1
            state.totals[key, default: 0] += 1
        }
    }

    struct Snapshot: Sendable, Equatable {
        /// Per key, counts per minute, oldest first; the last is the current minute.
        var perMinute: [String: [Int]]
        var totals: [String: Int]
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
            state.buckets[key] = shift >= minutes ? Array(repeating: 0, count: minutes)
                : Array(counts.dropFirst(shift)) + Array(repeating: 0, count: shift)
        }
    }
}
