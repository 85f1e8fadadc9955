import Foundation

/// Recording what an upstream call decided: the accounts' outcomes and the
/// call's audit event, in one statement.
extension ImportDelivery {
    /// What one upstream call decided for one account, as `record` stores it.
    struct OutcomeRow: Encodable, Sendable {
        var userID: String
        var nick: String?
        var faceURL: String?
        var status: Account.Status
        var imported: Bool
        var code: Int?
        var info: String?
        var delayMilliseconds: Int
        /// Counts towards the bounded attempts of unexplained answers.
        var unexplained: Bool

        init(_ userID: String, sent: UpstreamAccount, decision: DeliveryDecision) {
            self.userID = userID
            nick = sent.nick
            faceURL = sent.faceURL
            unexplained = decision.retryReason == .unexplained
            switch decision {
            case .imported:
                (status, imported, code, info, delayMilliseconds) = (.imported, true, nil, nil, 0)
            case .rejected(let code, let info):
                (status, imported, self.code, self.info, delayMilliseconds) = (.failed, false, code, info, 0)
            case .retry(let delay, let reason, let code, let info):
                // Unexplained answers keep their text even without a code: it is what a failed account will show.
                let keepInfo = code != nil || reason == .unexplained
                (status, imported, self.code, self.info, delayMilliseconds) =
                    (.pending, false, code, keepInfo ? info : nil, delay.milliseconds)
            }
        }

        enum CodingKeys: String, CodingKey {
            case userID = "user_id", nick, faceURL = "face_url", status, imported, code, info, delayMilliseconds = "delay_ms"
            case unexplained
        }
    }

    /// A request's own audit event, written with its account's outcome only if
    /// the record leaves that account `status` (the answer the event describes).
    struct ConditionalEvent: Sendable {
        var event: AuditEvent
        var userID: String
        var status: Account.Status
    }

    /// What one upstream call recorded: its accounts' outcomes, its audit event,
    /// and the events of the requests waiting for those accounts that go with it.
    struct RecordedCall: Sendable {
        var outcomes: [OutcomeRow]
        var event: AuditEvent
        var requestEvents: [ConditionalEvent] = []
    }

    /// The outcomes of one upstream call and its audit event, together (and
    /// `requestEvents` after it, each on its condition). Calls that finish while a
    /// record is being written are recorded together in the next statement
    /// (`CallRecorder`). Returns the accounts it changed, as they now are.
    @discardableResult
    func record(_ outcomes: [OutcomeRow], event: AuditEvent, requestEvents: [ConditionalEvent] = []) async throws -> [Account] {
        try await recorder.record(RecordedCall(outcomes: outcomes, event: event, requestEvents: requestEvents))
    }

    /// The events of the requests that offered them for these claims, for an
    /// outcome that leaves their accounts final (`RequestEventOffer.take`).
    static func takeRequestEvents(_ claims: [Claim], decision: DeliveryDecision) -> [(RequestEventOffer, ConditionalEvent)] {
        claims.compactMap { claim in
            guard let offer = claim.requestEvent, let final = predictedFinal(claim.account, after: decision),
                  let event = offer.take(predicting: final) else { return nil }
            return (offer, ConditionalEvent(event: event, userID: claim.account.userID, status: final.status))
        }
    }

    /// Tells each offer taken for a record whether that record wrote its event.
    static func settle(_ taken: [(RequestEventOffer, ConditionalEvent)], recorded: [Account]?) {
        let byID = Dictionary((recorded ?? []).map { (UserIDKey($0.userID), $0) }, uniquingKeysWith: { first, _ in first })
        for (offer, event) in taken {
            offer.settle(written: byID[UserIDKey(event.userID)].flatMap { $0.status == event.status ? $0 : nil })
        }
    }

    /// The account as a final decision leaves it (status and last error, as
    /// `record` sets them unless its profile changed meanwhile); nil for a retry.
    static func predictedFinal(_ account: Account, after decision: DeliveryDecision) -> Account? {
        var final = account
        switch decision {
        case .imported:
            final.status = .imported
            final.lastError = nil
        case .rejected(let code, let info):
            final.status = .failed
            final.lastError = Account.UpstreamError(code: code, info: info)
        case .retry:
            return nil
        }
        return final
    }
}
