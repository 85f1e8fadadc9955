import Foundation
import Synchronization

/// Wakes requests waiting for an account's import to resolve, when this replica
/// records an outcome. Other replicas' outcomes are seen by polling, so a
/// wait always has a timeout.
final class OutcomeSignals: Sendable {
    private struct Waiter {
        var userID: String
        var continuation: CheckedContinuation<Void, Never>
    }

    private let waiters = Mutex<[UInt64: Waiter]>([:])
    private let nextID = Atomic<UInt64>(0)

    /// Returns when `signal(userID)` is called or `timeout` has passed, whichever is first.
    func wait(for userID: String, timeout: Duration) async {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        await withCheckedContinuation { continuation in
            waiters.withLock { $0[id] = Waiter(userID: userID, continuation: continuation) }
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                self?.resume(id)
            }
        }
    }

    func signal(_ userID: String) {
        let woken = waiters.withLock { waiters -> [Waiter] in
            let matching = waiters.filter { $0.value.userID == userID }
            for id in matching.keys { waiters[id] = nil }
            return Array(matching.values)
        }
        for waiter in woken { waiter.continuation.resume() }
    }

    private func resume(_ id: UInt64) {
        let waiter = waiters.withLock { $0.removeValue(forKey: id) }
        waiter?.continuation.resume()
    }
}
