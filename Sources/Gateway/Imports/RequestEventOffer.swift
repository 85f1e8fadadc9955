import Synchronization

/// A request's own audit event, offered to the delivery of the account it
/// created, so that an outcome the request will answer with is recorded in the
/// same statement as the request's event (one round trip less on the path of a
/// new account, and for an account coalesced into a batch call, one audit write
/// less). Exactly one side writes the event: the delivery, when it took the
/// offer and its record made the account final as predicted; otherwise the
/// request, as for any other answer.
final class RequestEventOffer: Sendable {
    /// The request's event for an outcome (the HTTP edge's mapping of an answer to its record).
    typealias MakeEvent = @Sendable (ImportService.Outcome) -> AuditEvent

    enum State: Equatable, Sendable {
        /// The request may still write its own event.
        case open
        /// The claim went to the worker's batch queue: the call that carries the
        /// account may take the offer, until the request closes it.
        case queued
        /// A delivery is recording the event with the outcome: the request must wait for that record.
        case taken
        /// Recorded with the outcome.
        case written
        /// The request writes its own event (withdrawn, or the delivery's record did not write it).
        case withdrawn
    }

    private struct Inner {
        var state = State.open
        /// The account as the record that wrote the event left it (set only then).
        var recorded: Account?
        /// Requests closing the offer while a delivery records it.
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let make: MakeEvent
    private let inner = Mutex(Inner())

    init(_ make: @escaping MakeEvent) {
        self.make = make
    }

    /// For the delivery, once its call ended `final` (imported or failed): the
    /// request's event for that answer, unless the request has withdrawn the offer.
    func take(predicting final: Account) -> AuditEvent? {
        let kind: ImportService.Outcome.Kind
        switch final.status {
        case .imported: kind = .imported
        case .failed: kind = .rejected
        case .pending: return nil
        }
        let taken = inner.withLock { inner in
            guard inner.state == .open || inner.state == .queued else { return false }
            inner.state = .taken
            return true
        }
        return taken ? make(ImportService.Outcome(kind: kind, account: final)) : nil
    }

    /// For the delivery, after its record: the account as recorded when the
    /// record wrote the event with it, nil when it did not (or failed).
    func settle(written recorded: Account?) {
        let waiters = inner.withLock { inner in
            inner.state = recorded == nil ? .withdrawn : .written
            inner.recorded = recorded
            defer { inner.waiters = [] }
            return inner.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    /// For the delivery that hands the claim to the worker's batch queue: the
    /// batch call may take the offer while the request waits for its outcome.
    func handOver() {
        inner.withLock { inner in
            if inner.state == .open { inner.state = .queued }
        }
    }

    /// For the request whose own attempt ended without an outcome: `.taken`
    /// while a record that may write the event is under way (wait for it, then
    /// ask again); `.queued` while the batch queue holds the claim; otherwise who
    /// writes the event is settled for good (`.written`, or `.withdrawn`: the request's).
    func withdraw() -> State {
        inner.withLock { inner in
            if inner.state == .open { inner.state = .withdrawn }
            return inner.state
        }
    }

    /// The account as the record that wrote the event left it, once written.
    var written: Account? {
        inner.withLock { $0.state == .written ? $0.recorded : nil }
    }

    /// For the request, before it answers: withdraws the offer unless a
    /// delivery has taken it, and waits for the record of one that has. Returns
    /// the account as that record left it when it wrote the event (the answer
    /// must be that outcome), nil when the request writes its own event.
    func close() async -> Account? {
        while true {
            let (state, recorded) = inner.withLock { inner in
                if inner.state == .open || inner.state == .queued { inner.state = .withdrawn }
                return (inner.state, inner.recorded)
            }
            guard state == .taken else { return recorded }
            await settled()
        }
    }

    private func settled() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let resumeNow = inner.withLock { inner in
                guard inner.state == .taken else { return true }
                inner.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}
