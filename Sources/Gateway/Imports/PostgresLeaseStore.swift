import Foundation
import PostgresClient

/// Leases and outcomes in `accounts` (schema/sql/0001), each operation one
/// statement. Every row is found through the primary key, but `claimDue`'s
/// scan of the due index: these run on every upstream call, whatever the table's size.
struct PostgresLeaseStore: LeaseStore {
    let pool: PostgresPool

    static let claimColumns: StaticString = """
        user_id, chat_user_id, nick, face_url, status, created_at, updated_at, imported_at,
        attempts, last_error_code, last_error_info, upstream_exists, requested_by, request_id, requested_in_bulk
        """

    static func decodeClaim(_ row: PostgresRow) throws -> ImportDelivery.Claim {
        ImportDelivery.Claim(account: try AccountStore.decode(row), requestID: try row.optionalString("request_id"),
                             caller: try row.optionalString("requested_by"), bulk: try row.bool("requested_in_bulk"))
    }

    // The conditions of `Lease.isClaimable` and the lease `claim` and `claimDue` take.
    private static let claimable: StaticString =
        "status = 'pending' AND next_attempt_at <= now() AND (lease_until IS NULL OR lease_until < now())"
    private static func takeLease(_ owner: String) -> PostgresQuery {
        """
        lease_owner = \(owner), lease_until = now() + \(Lease.seconds)::integer * interval '1 second',
            attempts = attempts + 1, updated_at = now()
        """
    }

    func claim(_ userIDs: [String], owner: String) async throws -> [ImportDelivery.Claim] {
        switch userIDs.count {
        case 0:
            return []
        case 1:  // a single request's account: the plainest statement
            return try await pool.query("""
                UPDATE accounts SET \(fragment: Self.takeLease(owner))
                WHERE user_id = \(userIDs[0]) AND \(unescaped: Self.claimable)
                RETURNING \(unescaped: Self.claimColumns)
                """).rows.map(Self.decodeClaim)
        default:
            return try await pool.query("""
                UPDATE accounts SET \(fragment: Self.takeLease(owner))
                WHERE user_id = \(fragment: .any(of: userIDs)) AND \(unescaped: Self.claimable)
                RETURNING \(unescaped: Self.claimColumns)
                """).rows.map(Self.decodeClaim)
        }
    }

    func claimDue(limit: Int, owner: String) async throws -> [ImportDelivery.Claim] {
        try await pool.query(Self.claimDueStatement(limit: limit, owner: owner)).rows.map(Self.decodeClaim)
    }

    /// `claimDue`'s statement. `= ANY(ARRAY(...))` makes PostgreSQL update the
    /// claimed rows through the primary key: `IN (subquery)` was planned as a hash
    /// semi join over a sequential scan of the whole table (the subquery's LIMIT
    /// of 2,000 looked like too many probes), once per claim, whatever was due.
    static func claimDueStatement(limit: Int, owner: String) -> PostgresQuery {
        """
        UPDATE accounts SET \(fragment: takeLease(owner))
        WHERE user_id = ANY (ARRAY(
            SELECT user_id FROM accounts WHERE \(unescaped: claimable)
            ORDER BY next_attempt_at LIMIT \(limit)
            FOR UPDATE SKIP LOCKED))
        RETURNING \(unescaped: claimColumns)
        """
    }

    func giveBack(_ userIDs: [String], owner: String, dueIn delay: Duration) async throws {
        guard !userIDs.isEmpty else { return }
        _ = try await pool.query("""
            UPDATE accounts SET attempts = greatest(attempts - 1, 0), lease_owner = NULL, lease_until = NULL,
                next_attempt_at = now() + \(max(delay.milliseconds, 10))::integer * interval '1 millisecond'
            WHERE user_id = ANY (ARRAY(
                SELECT user_id FROM accounts
                WHERE user_id = \(fragment: .any(of: userIDs)) AND status = 'pending'
                    AND lease_owner = \(owner)
                ORDER BY user_id COLLATE "C" FOR UPDATE))
            """)
    }

    func record(_ calls: [ImportDelivery.RecordedCall], owner: String, maxUnexplained: Int) async throws -> [Account] {
        try await pool.query(Self.recordStatement(calls, owner: owner, maxUnexplained: maxUnexplained))
            .rows.map(AccountStore.decode)
    }

    /// One call's record statement.
    static func recordStatement(_ outcomes: [ImportDelivery.OutcomeRow], event: AuditEvent, owner: String,
                                maxUnexplained: Int) -> PostgresQuery {
        recordStatement([ImportDelivery.RecordedCall(outcomes: outcomes, event: event)], owner: owner,
                        maxUnexplained: maxUnexplained)
    }

    /// `record`'s one statement: one round trip, and the audit chain's lock is
    /// held for no longer than that statement's commit. The status is
    /// `OutcomeRow.status(currentNick:…)`, imported_at `OutcomeRow.confirms`.
    static func recordStatement(_ calls: [ImportDelivery.RecordedCall], owner: String, maxUnexplained: Int) -> PostgresQuery {
        let rows = JSON.text(calls.flatMap(\.outcomes))
        var events: [AuditEvent] = []
        var conditions: [AuditLog.OutcomeCondition] = []
        for call in calls {
            events.append(call.event)
            for request in call.requestEvents {
                events.append(request.event)
                conditions.append(AuditLog.OutcomeCondition(position: events.count, userID: request.userID,
                                                            status: request.status.rawValue))
            }
        }
        let audit = AuditLog.insert(events, conditions: conditions)
        return """
            WITH s AS (
                SELECT * FROM jsonb_to_recordset(\(rows)::jsonb) AS x(user_id text, nick text, face_url text, status text,
                    imported boolean, code integer, info text, delay_ms integer, unexplained boolean)
            ), locked AS (
                -- Rows are locked in user_id order, as every writer of several accounts
                -- locks them, so an outcome and a batch's intents cannot deadlock. In
                -- byte order (COLLATE "C") whatever the database's collation, as the
                -- gateway sorts (UserIDKey.precedes).
                SELECT user_id FROM accounts WHERE user_id = ANY (ARRAY(SELECT user_id FROM s)) AND status = 'pending'
                ORDER BY user_id COLLATE "C" FOR UPDATE
            ), outcome AS (
                UPDATE accounts a SET
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
            ), audit AS (\(fragment: audit))
            SELECT \(unescaped: AccountStore.columns) FROM outcome
            """
    }

    func releaseAll(owner: String) async throws -> Int {
        try await pool.query("""
            UPDATE accounts SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = \(owner) AND status = 'pending'
            """).affectedRows
    }
}
