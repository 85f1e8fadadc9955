import Foundation
import PostgresClient

/// SQL for the `accounts` table. Functions take a connection so callers can
/// compose them inside one transaction; they run on the connection's thread.
enum AccountStore {
    static let columns: StaticString = """
        user_id, chat_user_id, nick, face_url, status, created_at, updated_at, imported_at,
        attempts, last_error_code, last_error_info, upstream_exists
        """

    /// `columns` of `accounts a`, for a statement that joins it.
    static let qualifiedColumns: StaticString = """
        a.user_id, a.chat_user_id, a.nick, a.face_url, a.status, a.created_at, a.updated_at, a.imported_at,
        a.attempts, a.last_error_code, a.last_error_info, a.upstream_exists
        """

    static func decode(_ row: PostgresRow) throws -> Account {
        let code = try row.optionalInt("last_error_code")
        let status = try row.string("status")
        guard let parsed = Account.Status(rawValue: status) else {
            throw PostgresError.decoding(column: "status", message: "unknown status '\(status)'")
        }
        return Account(
            userID: try row.string("user_id"),
            chatUserID: try row.string("chat_user_id"),
            nick: try row.optionalString("nick"),
            faceURL: try row.optionalString("face_url"),
            status: parsed,
            createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"),
            importedAt: try row.optionalDate("imported_at"),
            attempts: try row.int("attempts"),
            lastError: code.map { Account.UpstreamError(code: $0, info: (try? row.optionalString("last_error_info")) ?? nil ?? "") },
            upstreamExists: try row.bool("upstream_exists")
        )
    }

    static func fetch(_ userID: String, on connection: PostgresConnection) throws -> Account? {
        let result = try connection.query("SELECT \(unescaped: columns) FROM accounts WHERE user_id = \(userID)")
        return try result.rows.first.map(decode)
    }

    /// Inserts a new pending account; nil when `user_id` or `chat_user_id` is
    /// taken. No conflict target: with one, a concurrent insert of the same
    /// account could still fail on the other unique index instead of waiting.
    static func insertPending(
        _ input: AccountInput, requestID: String, caller: String, bulk: Bool, on connection: PostgresConnection
    ) throws -> Account? {
        let result = try connection.query("""
            INSERT INTO accounts (user_id, chat_user_id, nick, face_url, status, next_attempt_at, requested_by, request_id,
                                  requested_in_bulk)
            VALUES (\(input.userID), \(input.chatUserID), \(input.nick), \(input.faceURL), 'pending', now(), \(caller), \(requestID),
                    \(bulk))
            ON CONFLICT DO NOTHING
            RETURNING \(unescaped: columns)
            """)
        return try result.rows.first.map(decode)
    }

    /// What one statement found for a request: the account it created (and,
    /// with an owner, claimed for delivery), or the row already there.
    enum Found {
        /// `slot`: the call slot reserved for a claimed account, when one was asked for.
        case created(Account, claimed: Bool, slot: RateLimiter.Reserved?)
        case existing(Account)
    }

    /// The call slot a claimed new account's delivery asks for in the statement
    /// that stores it (see `rate_limit_reserve`): one round trip saved on the
    /// request path of a new account.
    struct SlotRequest: Sendable {
        var api: String
        var rate: Double
        /// The slot must begin within this many milliseconds, or none is granted.
        var maxWaitMilliseconds: Int
    }

    /// The common cases of `POST /accounts` in one round trip: inserts a new
    /// pending account (unless `insert` is false), claimed for `owner` when one is
    /// given so the caller can deliver it at once, and with the slot of its call
    /// reserved when `slot` is given too; or, when the user_id exists,
    /// returns that row as committed. Nil when neither is seen: a concurrent
    /// insert committed after this statement began, or the chat_user_id belongs
    /// to another user_id; the locking path sorts those out.
    static func insertOrFind(
        _ input: AccountInput, requestID: String, caller: String, insert: Bool, claimFor owner: String?,
        reserving slot: SlotRequest? = nil, on connection: PostgresConnection
    ) throws -> Found? {
        let slot = owner == nil ? nil : slot
        let sent = ContinuousClock.now
        let result = try connection.query(insertOrFindStatement(input, requestID: requestID, caller: caller, insert: insert,
                                                                claimFor: owner, reserving: slot))
        let received = ContinuousClock.now
        guard let row = result.rows.first else { return nil }
        let account = try decode(row)
        guard try row.bool("created") else { return .existing(account) }
        let reserved = try slot.map { _ in
            RateLimiter.Reserved(reservation: try PostgresRateLimitStore.decodeReservation(row), sent: sent, received: received)
        }
        return .created(account, claimed: owner != nil, slot: reserved)
    }

    /// `insertOrFind`'s statement. The lookup comes first: a repeat (the common
    /// case) then costs one index probe, with no speculative insert and its
    /// constraint checks. The slot is reserved only when the account was created
    /// (a one-time filter: `rate_limit_reserve` is not called otherwise).
    static func insertOrFindStatement(
        _ input: AccountInput, requestID: String, caller: String, insert: Bool, claimFor owner: String?,
        reserving slot: SlotRequest? = nil
    ) -> PostgresQuery {
        let leaseSeconds = Lease.seconds
        return """
            WITH existing AS (
                SELECT \(unescaped: columns) FROM accounts WHERE user_id = \(input.userID)
            ), created AS (
                INSERT INTO accounts (user_id, chat_user_id, nick, face_url, status, next_attempt_at, requested_by, request_id,
                                      lease_owner, lease_until, attempts)
                SELECT \(input.userID), \(input.chatUserID), \(input.nick), \(input.faceURL), 'pending', now(), \(caller), \(requestID),
                       \(owner)::text, CASE WHEN \(owner)::text IS NULL THEN NULL ELSE now() + \(leaseSeconds)::integer * interval '1 second' END,
                       CASE WHEN \(owner)::text IS NULL THEN 0 ELSE 1 END
                WHERE \(insert)::boolean AND NOT EXISTS (SELECT 1 FROM existing)
                ON CONFLICT DO NOTHING
                RETURNING \(unescaped: columns)
            ), reserved AS (
                SELECT granted, first_offset_us, spacing_us, next_free_us, factor, now_us
                FROM rate_limit_reserve(\(slot?.api ?? ""), \(slot?.rate ?? 0), 1, \(max(0, slot?.maxWaitMilliseconds ?? 0))::integer)
                WHERE \(slot != nil)::boolean AND EXISTS (SELECT 1 FROM created)
            )
            SELECT \(unescaped: columns), true AS created, r.granted, r.first_offset_us, r.spacing_us, r.next_free_us, r.factor, r.now_us
            FROM created LEFT JOIN reserved r ON true
            UNION ALL
            SELECT \(unescaped: columns), false, NULL, NULL, NULL, NULL, NULL, NULL FROM existing
            """
    }

    /// Inserts the new accounts among `inputs` in one statement, in user_id
    /// order, as asked in bulk; returns those it created. Accounts whose user_id or chat_user_id
    /// is taken are left for the caller to decide row by row.
    static func insertPending(
        _ inputs: [AccountInput], requestID: String, caller: String, on connection: PostgresConnection
    ) throws -> [Account] {
        guard !inputs.isEmpty else { return [] }
        let rows = JSON.text(inputs.map { NewRow(userID: $0.userID, chatUserID: $0.chatUserID, nick: $0.nick, faceURL: $0.faceURL) })
        return try connection.query("""
            INSERT INTO accounts (user_id, chat_user_id, nick, face_url, status, next_attempt_at, requested_by, request_id,
                                  requested_in_bulk)
            SELECT user_id, chat_user_id, nick, face_url, 'pending', now(), \(caller), \(requestID), true
            FROM jsonb_to_recordset(\(rows)::jsonb) AS x(user_id text, chat_user_id text, nick text, face_url text)
            ORDER BY user_id COLLATE "C"
            ON CONFLICT DO NOTHING
            RETURNING \(unescaped: columns)
            """).rows.map(decode)
    }

    private struct NewRow: Encodable {
        var userID: String
        var chatUserID: String
        var nick: String?
        var faceURL: String?

        enum CodingKeys: String, CodingKey {
            case userID = "user_id", chatUserID = "chat_user_id", nick, faceURL = "face_url"
        }
    }

    /// Names the latest request behind a pending account.
    static func touch(_ userID: String, requestID: String, caller: String, bulk: Bool, on connection: PostgresConnection) throws {
        _ = try connection.query("""
            UPDATE accounts SET requested_by = \(caller), request_id = \(requestID), requested_in_bulk = \(bulk)
            WHERE user_id = \(userID)
            """)
    }

    static func lock(_ userID: String, on connection: PostgresConnection) throws -> Account? {
        let result = try connection.query("SELECT \(unescaped: columns) FROM accounts WHERE user_id = \(userID) FOR UPDATE")
        return try result.rows.first.map(decode)
    }

    /// Sets a new profile and makes the account due for delivery now.
    static func requeue(
        _ userID: String, nick: String?, faceURL: String?, requestID: String, caller: String, bulk: Bool,
        resetAttempts: Bool, on connection: PostgresConnection
    ) throws -> Account {
        let result = try connection.query("""
            UPDATE accounts SET nick = \(nick), face_url = \(faceURL), status = 'pending', updated_at = now(),
                next_attempt_at = now(), requested_by = \(caller), request_id = \(requestID), requested_in_bulk = \(bulk),
                attempts = CASE WHEN \(resetAttempts) THEN 0 ELSE attempts END,
                unexplained_attempts = CASE WHEN \(resetAttempts) THEN 0 ELSE unexplained_attempts END
            WHERE user_id = \(userID)
            RETURNING \(unescaped: columns)
            """)
        guard let row = result.rows.first else {
            throw PostgresError.decoding(column: "user_id", message: "account vanished while locked")
        }
        return try decode(row)
    }
}

extension AccountStore {
    /// Several accounts by user_id, in one query.
    static func fetch(_ userIDs: [String], on pool: PostgresPool) async throws -> [UserIDKey: Account] {
        let rows = try await pool.query("""
            SELECT \(unescaped: columns) FROM accounts WHERE user_id = \(fragment: .any(of: userIDs))
            """).rows
        return Dictionary(uniqueKeysWithValues: try rows.map { row in
            let account = try decode(row)
            return (UserIDKey(account.userID), account)
        })
    }
}

extension AccountStore {
    /// Those of `userIDs` that are no longer pending.
    static func resolved(_ userIDs: [String], on pool: PostgresPool) async throws -> [String] {
        try await pool.query(resolvedStatement(userIDs)).rows.map { try $0.string("user_id") }
    }

    static func resolvedStatement(_ userIDs: [String]) -> PostgresQuery {
        """
        SELECT user_id FROM accounts
        WHERE user_id = \(fragment: .any(of: userIDs)) AND status <> 'pending'
        """
    }
}

extension AccountStore {
    /// The user_id a chat_user_id is mapped to, if any.
    static func owner(ofChatUserID chatUserID: String, on connection: PostgresConnection) throws -> String? {
        try connection.query("SELECT user_id FROM accounts WHERE chat_user_id = \(chatUserID)").rows.first?.string("user_id")
    }
}
