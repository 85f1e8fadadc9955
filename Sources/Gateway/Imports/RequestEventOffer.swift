import Synchronization

/// A request's own audit event, offered to the delivery of the account it
/// created, so that an outcome the request will answer with is recorded in the
/// same statement as the request's event (one round trip less on the path of a
/// new account). Exactly one side writes the event: the delivery, when it took
/// the offer and its record made the account final as predicted; otherwise the
/// request, as for any other answer.
final class RequestEventOffer: Sendable {
    /// The request's event for an outcome (the HTTP edge's mapping of an answer to its record).
    typealias MakeEvent = @Sendable (ImportService.Outcome) -> AuditEvent

    enum State: Equatable, Sendable {
        /// The request may still write its own event.
        case open
        /// A delivery is recording the event with the outcome: the request must wait for that record.
        case taken
        /// Recorded with the outcome.
        case written
        /// The request writes its own event (withdrawn, or the delivery's record did not write it).
        case withdrawn
    }

    private let make: MakeEvent
    private let state = Mutex(State.open)

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
        let taken = state.withLock { state in
            guard state == .open else { return false }
            state = .taken
            return true
        }
        return taken ? make(ImportService.Outcome(kind: kind, account: final)) : nil
    }

    /// For the delivery, after its record: whether the event was written with it.
    func settle(written: Bool) {
        state.withLock { $0 = written ? .written : .withdrawn }
    }

    /// For the request, before it answers: `.taken` while a record that may
    /// write the event is under way (wait for it, then ask again); otherwise who
    /// writes the event is settled for good (`.written`, or `.withdrawn`: the request's).
    func withdraw() -> State {
        state.withLock { state in
            if state == .open { state = .withdrawn }
            return state
        }
    }
}
