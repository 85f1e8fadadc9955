import Synchronization

/// Claims bound for `multiaccount_import`, held until a slot of the batch
/// budget comes: the worker's `sendBatches` takes, at each slot, what is queued
/// then (up to 100 accounts), not what was claimed when the slot was reserved.
/// Under a steady stream of single requests claims arrive a few at a time, and a
/// slot reserved for each handful would spend the scarce 100 calls/s on calls
/// of a few accounts (measured: 5.7 accounts a call, 680 accounts/s in all).
/// The worker fills it, and so does a request whose own account_import slot
/// cannot come in time: its claim joins the next batch call as it is, without
/// being given back and claimed again (two commits each).
final class BatchQueue: Sendable {
    private struct State {
        /// Senders taking from the queue: workers running (a stopping one may
        /// overlap the next, as when `import` is interrupted and run again).
        var senders = 0
        var claims: [ImportDelivery.Claim] = []
    }

    private let state = Mutex(State())
    /// Rung when claims are added.
    let arrived = Doorbell()

    var count: Int { state.withLock { $0.claims.count } }

    /// Whether a sender runs, so that an offer would be taken.
    var isOpen: Bool { state.withLock { $0.senders > 0 } }

    /// Called by a sender when it starts.
    func open() {
        state.withLock { $0.senders += 1 }
    }

    /// Queues the claims unless no sender runs (not started, or stopped); false then,
    /// and the claims stay the caller's.
    @discardableResult
    func offer(_ new: [ImportDelivery.Claim]) -> Bool {
        guard !new.isEmpty else { return true }
        let queued = state.withLock { state in
            guard state.senders > 0 else { return false }
            state.claims.append(contentsOf: new)
            return true
        }
        if queued { arrived.ring() }
        return queued
    }

    /// The oldest claims, up to `limit`.
    func take(_ limit: Int) -> [ImportDelivery.Claim] {
        state.withLock { state in
            let taken = Array(state.claims.prefix(limit))
            state.claims.removeFirst(taken.count)
            return taken
        }
    }

    /// Everything queued.
    func takeAll() -> [ImportDelivery.Claim] {
        state.withLock { Self.drain(&$0) }
    }

    private static func drain(_ state: inout State) -> [ImportDelivery.Claim] {
        defer { state.claims = [] }
        return state.claims
    }

    /// Called by a sender when it stops. The last one to stop gets what is
    /// queued, and later offers are refused until a sender opens it again.
    func close() -> [ImportDelivery.Claim] {
        state.withLock { state in
            state.senders -= 1
            guard state.senders == 0 else { return [] }
            return Self.drain(&state)
        }
    }
}
