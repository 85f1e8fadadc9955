import Synchronization

/// At most `limit` operations at once per caller in this replica: auditor
/// queries, so that one auditor's eight parallel exports cannot hold the
/// whole pool while importers wait.
final class PerCallerLimit: Sendable {
    let limit: Int
    private let running = Mutex<[String: Int]>([:])

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes a slot, or returns false when the caller already holds `limit`.
    func tryAcquire(_ caller: String) -> Bool {
        running.withLock { running in
            guard running[caller, default: 0] < limit else { return false }
            running[caller, default: 0] += 1
            return true
        }
    }

    func release(_ caller: String) {
        running.withLock { running in
            let left = running[caller, default: 1] - 1
            running[caller] = left > 0 ? left : nil
        }
    }
}
