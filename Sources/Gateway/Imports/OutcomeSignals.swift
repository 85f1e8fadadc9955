import Foundation
import Synchronization

/// Wakes requests waiting for an account's import to resolve: at once when this
/// replica records an outcome (`signal`), and within `watch`'s interval when
/// another replica does. A wait always has a timeout as well.
final class OutcomeSignals: Sendable {
    private struct Waiter {
        var userID: String
        /// Asked about by `watch`; not when this replica's own delivery will signal the outcome.
        var watched: Bool
        var continuation: CheckedContinuation<Void, Never>
        /// Resumes the wait at its timeout; cancelled when a signal comes first.
        var timer: Task<Void, Never>?
    }

    /// Which of the given accounts are no longer pending (in the database, whoever recorded them).
    typealias Resolved = @Sendable ([String]) async throws -> [String]

    private let waiters = Mutex<[UInt64: Waiter]>([:])
    private let nextID = Atomic<UInt64>(0)
    /// Rung when a wait begins, so an idle watcher need not poll.
    private let firstWaiter = Doorbell()

    /// Returns when `signal(userID)` is called or `timeout` has passed, whichever is first.
    /// `watched`: false when this replica holds the account's claim (its batch queue
    /// has it), so its own record or give-back signals: `watch` need not ask.
    func wait(for userID: String, timeout: Duration, watched: Bool = true) async {
        let id = nextID.wrappingAdd(1, ordering: .relaxed).newValue
        await withCheckedContinuation { continuation in
            waiters.withLock { $0[id] = Waiter(userID: userID, watched: watched, continuation: continuation) }
            if watched { firstWaiter.ring() }
            let timer = Task { [weak self] in
                try? await Task.sleep(for: timeout)
                guard !Task.isCancelled else { return }
                self?.resume(id)
            }
            // Keep the timer so a signal cancels it; if the signal came first, it is gone already.
            let stillWaiting = waiters.withLock { waiters in
                waiters[id]?.timer = timer
                return waiters[id] != nil
            }
            if !stillWaiting { timer.cancel() }
        }
    }

    func signal(_ userID: String) {
        signal(Set([userID]))
    }

    func signal(_ userIDs: Set<String>) {
        let woken = waiters.withLock { waiters -> [Waiter] in
            let matching = waiters.filter { userIDs.contains($0.value.userID) }
            for id in matching.keys { waiters[id] = nil }
            return Array(matching.values)
        }
        for waiter in woken {
            waiter.timer?.cancel()
            waiter.continuation.resume()
        }
    }

    /// The accounts waited for now whose outcome another replica may record.
    var awaited: Set<String> {
        waiters.withLock { Set($0.values.filter(\.watched).map(\.userID)) }
    }

    /// Until cancelled: while anyone waits, asks `resolved` every `interval`
    /// which awaited accounts another replica (or anyone) has resolved, in one
    /// statement for all of them, and wakes their waiters. Without it a request
    /// whose account another replica delivered would learn of it only by its
    /// own poll (`ImportService.pollInterval`), typically at its deadline.
    func watch(every interval: Duration, errorInterval: Duration = .seconds(1), resolved: Resolved,
               onError: @Sendable (Error) -> Void) async {
        while !Task.isCancelled {
            let userIDs = awaited
            if userIDs.isEmpty {
                await firstWaiter.wait(timeout: .seconds(1))
                continue
            }
            do {
                signal(Set(try await resolved(userIDs.sorted())))
                try? await Task.sleep(for: interval)
            } catch {
                onError(error)
                try? await Task.sleep(for: errorInterval)
            }
        }
    }

    private func resume(_ id: UInt64) {
        let waiter = waiters.withLock { $0.removeValue(forKey: id) }
        waiter?.continuation.resume()
    }
}
