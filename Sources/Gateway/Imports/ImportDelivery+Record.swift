import Foundation
import PostgresClient

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

    /// The outcomes of one upstream call and its audit event in one statement:
    /// one round trip, and the audit chain's lock is held for no longer than
    /// that statement's commit. Only the profile that was sent counts: if a
    /// newer request changed it meanwhile, the account stays pending for that profile.
    /// Returns the accounts it changed, as they now are.
    @discardableResult
    func record(_ outcomes: [OutcomeRow], event: AuditEvent) async throws -> [Account] {
        try await pool.query(Self.recordStatement(outcomes, event: event, owner: owner, maxUnexplained: policy.maxUnexplainedAttempts))
            .rows.map(AccountStore.decode)
    }

    /// `record`'s one statement. Every row it touches is found through the primary
    /// key: it runs on every upstream call, whatever the table's size.
    static func recordStatement(_ outcomes: [OutcomeRow], event: AuditEvent, owner: String, maxUnexplained: Int) -> PostgresQuery {
        let rows = JSON.text(outcomes)
        return """
            WITH s AS (
                SELECT * FROM jsonb_to_recordset(\(rows)::jsonb) AS x(user_id text, nick text, face_url text, status text,
                    imported boolean, code integer, info text, delay_ms integer, unexplained boolean)
            ), locked AS (
                -- Rows are locked in user_id order, as every writer of several accounts
                -- locks them, so an outcome and a batch's intents cannot deadlock.
                SELECT user_id FROM accounts WHERE user_id = ANY (ARRAY(SELECT user_id FROM s)) AND status = 'pending'
                ORDER BY user_id FOR UPDATE
            ), outcome AS (
                UPDATE accounts a SET
                    -- The last of the bounded unexplained answers ends the account `failed` with it.
                    status = CASE WHEN a.nick IS DISTINCT FROM s.nick OR a.face_url IS DISTINCT FROM s.face_url THEN 'pending'
                                  WHEN s.unexplained AND a.unexplained_attempts + 1 >= \(maxUnexplained)::integer THEN 'failed'
                                  ELSE s.status END,
                    imported_at = CASE WHEN s.imported AND a.nick IS NOT DISTINCT FROM s.nick
                                       AND a.face_url IS NOT DISTINCT FROM s.face_url THEN now() ELSE a.imported_at END,
                    upstream_exists = a.upstream_exists OR s.imported,
                    last_error_code = s.code, last_error_info = s.info,
                    unexplained_attempts = a.unexplained_attempts + s.unexplained::integer,
                    next_attempt_at = now() + s.delay_ms * interval '1 millisecond',
                    lease_owner = CASE WHEN a.lease_owner = \(owner) THEN NULL ELSE a.lease_owner END,
                    lease_until = CASE WHEN a.lease_owner = \(owner) THEN NULL ELSE a.lease_until END,
                    updated_at = now()
                -- = ANY(ARRAY(...)) lets the planner use the primary key; a plain join
                -- with the record set (estimated at 100 rows) scans the whole table.
                FROM s WHERE a.user_id = ANY (ARRAY(SELECT user_id FROM locked)) AND a.user_id = s.user_id AND a.status = 'pending'
                RETURNING a.*
            ), audit AS (\(fragment: AuditLog.insert([event])))
            SELECT \(unescaped: AccountStore.columns) FROM outcome
            """
    }
}
