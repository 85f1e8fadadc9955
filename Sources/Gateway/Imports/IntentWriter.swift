import Logging
import PostgresClient

/// `AccountStore.insertOrFind` for many concurrent `POST /accounts` at once:
/// requests that arrive while a statement runs go together in the next one
/// (`GroupCommit`). Each new account's intent must be durable before its
/// answer, and a commit waits for the WAL to reach the disk: one commit per
/// request made them queue for the WAL (measured, 20,000 new accounts from 64
/// connections: most sessions waiting on WALWrite, 530 requests/s). One
/// statement for the group shares one commit. What a request finds is what the
/// single statement would find: its account created (and claimed for this
/// replica when it asked), the row already there, or nothing (a concurrent
/// insert, or its chat_user_id taken), which the locking path sorts out.
final class IntentWriter: Sendable {
    struct Request: Sendable {
        var input: AccountInput
        var requestID: String
        var caller: String
        /// False over the caller's backlog quota: only look.
        var insert: Bool
        /// The replica that claims the account if it is created, to deliver it at once.
        var claimFor: String?
    }

    /// Requests per statement at most.
    static let maxBatch = 200

    private let group: GroupCommit<Request, AccountStore.Found?>

    init(pool: PostgresPool, logger: Logger) {
        group = GroupCommit("intent batch", logger: logger, nextBatch: Self.nextBatch) { requests in
            try Self.found(in: try await pool.query(Self.statement(requests)), for: requests)
        }
    }

    func insertOrFind(_ request: Request) async throws -> AccountStore.Found? {
        try await group.submit(request)
    }

    /// The requests at the front of the queue that can share a statement: at
    /// most `maxBatch`, no user_id or chat_user_id twice (two inserts of one
    /// account in one statement would leave one request with neither row).
    static func nextBatch(_ queue: [Request]) -> Int {
        var userIDs = Set<String>()
        var chatUserIDs = Set<String>()
        var count = 0
        for request in queue.prefix(maxBatch) {
            guard userIDs.insert(request.input.userID).inserted,
                  chatUserIDs.insert(request.input.chatUserID).inserted else { break }
            count += 1
        }
        return max(count, 1)
    }

    /// One statement for the group: the rows already there, and the new ones
    /// inserted in user_id order (so concurrent groups cannot deadlock), as
    /// `AccountStore.insertOrFindStatement` does for one.
    static func statement(_ requests: [Request]) -> PostgresQuery {
        let rows = JSON.text(requests.enumerated().map { position, request in
            Row(position: position, userID: request.input.userID, chatUserID: request.input.chatUserID,
                nick: request.input.nick, faceURL: request.input.faceURL, requestedBy: request.caller,
                requestID: request.requestID, insert: request.insert, leaseOwner: request.claimFor)
        })
        return """
            WITH asked AS (
                SELECT * FROM jsonb_to_recordset(\(rows)::jsonb) AS q(position integer, user_id text, chat_user_id text,
                    nick text, face_url text, requested_by text, request_id text, insert boolean, lease_owner text)
            ), existing AS (
                SELECT q.position, \(unescaped: AccountStore.qualifiedColumns)
                FROM asked q JOIN accounts a ON a.user_id = q.user_id
            ), created AS (
                INSERT INTO accounts (user_id, chat_user_id, nick, face_url, status, next_attempt_at, requested_by, request_id,
                                      lease_owner, lease_until, attempts)
                SELECT q.user_id, q.chat_user_id, q.nick, q.face_url, 'pending', now(), q.requested_by, q.request_id,
                       q.lease_owner,
                       CASE WHEN q.lease_owner IS NULL THEN NULL ELSE now() + \(Lease.seconds)::integer * interval '1 second' END,
                       CASE WHEN q.lease_owner IS NULL THEN 0 ELSE 1 END
                FROM asked q
                WHERE q.insert AND NOT EXISTS (SELECT 1 FROM existing e WHERE e.position = q.position)
                ORDER BY q.user_id COLLATE "C"
                ON CONFLICT DO NOTHING
                RETURNING \(unescaped: AccountStore.columns)
            )
            SELECT q.position, true AS created, \(unescaped: AccountStore.qualifiedColumns)
            FROM created a JOIN asked q ON q.user_id = a.user_id
            UNION ALL
            SELECT position, false, \(unescaped: AccountStore.columns) FROM existing
            """
    }

    /// Each request's finding, in the requests' order.
    static func found(in result: PostgresResult, for requests: [Request]) throws -> [AccountStore.Found?] {
        var found = [AccountStore.Found?](repeating: nil, count: requests.count)
        for row in result.rows {
            let position = try row.int("position")
            guard found.indices.contains(position) else {
                throw PostgresError.decoding(column: "position", message: "no request at position \(position)")
            }
            let account = try AccountStore.decode(row)
            found[position] = try row.bool("created")
                ? .created(account, claimed: requests[position].claimFor != nil, slot: nil)
                : .existing(account)
        }
        return found
    }

    private struct Row: Encodable {
        var position: Int
        var userID: String
        var chatUserID: String
        var nick: String?
        var faceURL: String?
        var requestedBy: String
        var requestID: String
        var insert: Bool
        var leaseOwner: String?

        enum CodingKeys: String, CodingKey {
            case position, userID = "user_id", chatUserID = "chat_user_id", nick, faceURL = "face_url",
                 requestedBy = "requested_by", requestID = "request_id", insert, leaseOwner = "lease_owner"
        }
    }
}
