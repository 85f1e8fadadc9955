import Synchronization

/// Remembers successful authentications briefly, keyed by the token's digest.
final class CallerCache: Sendable {
    private struct Entry {
        var caller: Caller
        var expires: ContinuousClock.Instant
    }

    private let entries = Mutex<[[UInt8]: Entry]>([:])
    let lifetime: Duration
    /// Bounded, so a flood of valid tokens cannot grow it without limit.
    let capacity = 10_000

    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    func lookup(_ digest: [UInt8]) -> Caller? {
        let now = ContinuousClock.now
        return entries.withLock { entries in
            guard let entry = entries[digest] else { return nil }
            if entry.expires > now { return entry.caller }
            entries[digest] = nil
            return nil
        }
    }

    func store(_ caller: Caller, for digest: [UInt8]) {
        let now = ContinuousClock.now
        entries.withLock { entries in
            if entries.count >= capacity { entries = entries.filter { $0.value.expires > now } }
            if entries.count < capacity { entries[digest] = Entry(caller: caller, expires: now + lifetime) }
        }
    }
}
