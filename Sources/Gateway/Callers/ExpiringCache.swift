import Synchronization

/// Remembers values briefly, keyed by a token's digest: successful
/// authentications (`Caller`), and refused tokens, so a flood of bad tokens
/// costs no query after the first of each.
final class ExpiringCache<Value: Sendable>: Sendable {
    private struct Entry {
        var value: Value
        var expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[[UInt8]: Entry]>([:])
    let lifetime: Duration
    /// Bounded, so a flood of distinct tokens cannot grow it without limit.
    let capacity: Int

    init(lifetime: Duration, capacity: Int = 10_000) {
        self.lifetime = lifetime
        self.capacity = capacity
    }

    func lookup(_ digest: [UInt8]) -> Value? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[digest] else { return nil }
            if entry.expires > now { return entry.value }
            entries[digest] = nil
            return nil
        }
    }

    func store(_ value: Value, for digest: [UInt8]) {
        let now = ContinuousClock.now
        entries.withLock { entries in
            if entries.count >= capacity { entries = entries.filter { $0.value.expires > now } }
            if entries.count < capacity { entries[digest] = Entry(value: value, expires: now + lifetime) }
        }
    }
}
