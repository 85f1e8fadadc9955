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

    /// The outcomes of one upstream call and its audit event, together.
    /// Returns the accounts it changed, as they now are.
    @discardableResult
    func record(_ outcomes: [OutcomeRow], event: AuditEvent) async throws -> [Account] {
        try await store.record(outcomes, event: event, owner: owner, maxUnexplained: policy.maxUnexplainedAttempts)
    }
}
