import Foundation
import PostgresClient
import Testing
@testable import Gateway

/// Statements that run on every upstream call must find their rows through the
/// primary key: a sequential scan costs time in proportion to the table and
/// went unseen until the singles flood slowed down (5.5 ms per call at 20,000 accounts).
@Suite struct HotPathPlanTests {
    /// Runs `body` on a database whose `accounts` holds 20,000 rows `<prefix>_1…`
    /// with `status` (an SQL expression of `i`), analyzed, as plans see it under load.
    private func withAccounts(_ prefix: String, status: StaticString, _ body: (PostgresPool) async throws -> Void) async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        do {
            _ = try await pool.query("""
                INSERT INTO accounts (user_id, chat_user_id, status, next_attempt_at)
                SELECT \(prefix) || '_' || i, \(prefix) || '_' || i, \(unescaped: status), now() FROM generate_series(1, 20000) AS i
                """)
            _ = try await pool.query("ANALYZE accounts")
            try await body(pool)
        } catch {
            await pool.close()
            await database.drop()
            throw error
        }
        await pool.close()
        await database.drop()
    }

    @Test func recordingAnOutcomeReadsNoWholeTable() async throws {
        try await withAccounts("plan", status: "'pending'") { pool in
            let outcomes = (1...100).map { i in
                ImportDelivery.OutcomeRow("plan_\(i)", sent: UpstreamAccount(chatUserID: "plan_\(i)", nick: nil, faceURL: nil),
                                          decision: i % 2 == 0 ? .imported : .retry(after: .seconds(1), reason: .unexplained, code: 72000, info: "?"))
            }
            let event = AuditEvent(requestID: "r", caller: nil, action: .upstreamMultiaccountImport, outcome: .partial)
            let statement = PostgresLeaseStore.recordStatement(outcomes, event: event, owner: "replica", maxUnexplained: 5)
            let plan = try await pool.query("EXPLAIN \(fragment: statement)").rows.map { try $0.string("QUERY PLAN") }
            #expect(!plan.contains { $0.contains("Seq Scan on accounts") }, "\(plan.joined(separator: "\n"))")
        }
    }

    /// The worker's claim of due accounts reads only what it claims, through the
    /// indexes: it runs many times a second under a backlog, and a sequential scan
    /// per claim made PostgreSQL the busiest process of the singles bench.
    @Test func claimingDueAccountsReadsNoWholeTable() async throws {
        try await withAccounts("due", status: "CASE WHEN i % 10 = 0 THEN 'pending' ELSE 'imported' END") { pool in
            for limit in [1, 100, 2_000] {
                let statement = PostgresLeaseStore.claimDueStatement(limit: limit, owner: "replica")
                let plan = try await pool.query("EXPLAIN \(fragment: statement)").rows.map { try $0.string("QUERY PLAN") }
                #expect(!plan.contains { $0.contains("Seq Scan on accounts") }, "limit \(limit):\n\(plan.joined(separator: "\n"))")
            }
            let claimed = try await PostgresLeaseStore(pool: pool).claimDue(limit: 2_000, owner: "replica")
            #expect(claimed.count == 2_000 && claimed.allSatisfy { $0.account.attempts == 1 })
        }
    }

    /// Statements that run for every waiting request under load: the shared
    /// lookup of repeats and the watch for outcomes other replicas recorded.
    /// (RepeatLookup's first form joined the asked rows and scanned accounts for
    /// every group: PostgreSQL took half the CPU of the singles bench.)
    @Test func lookingUpRepeatsAndWatchingOutcomesReadNoWholeTable() async throws {
        try await withAccounts("look", status: "'imported'") { pool in
            for count in [1, 20, 200] {
                let requests = (1...count).map { i in
                    RepeatLookup.Request(input: AccountInput(userID: "look_\(i)", chatUserID: "look_\(i)", nick: nil, faceURL: nil),
                                         event: RepeatLookup.Event(template: AuditEvent(requestID: "r\(i)", caller: "c", action: .accountImport,
                                                                                        outcome: .invalid), started: .now))
                }
                for statement in [RepeatLookup.statement(requests), AccountStore.resolvedStatement(requests.map(\.input.userID))] {
                    let plan = try await pool.query("EXPLAIN \(fragment: statement)").rows.map { try $0.string("QUERY PLAN") }
                    #expect(!plan.contains { $0.contains("Seq Scan on accounts") }, "\(count) asked:\n\(plan.joined(separator: "\n"))")
                }
            }
        }
    }

    /// A repeated `POST /accounts` finds its row with one index probe: the insert
    /// is not even attempted, so no speculative insertion, constraint checks or
    /// conflict resolution (they cost twice the lookup on the busiest path).
    @Test func aRepeatDoesNotAttemptTheInsert() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        let input = try AccountInput.parse(["user_id": "plan_repeat", "nick": "n"], strategy: .verbatim)
        let first = try await pool.withConnection {
            try AccountStore.insertOrFind(input, requestID: "r1", caller: "c", insert: true, claimFor: nil, on: $0)
        }
        guard case .created = first else { Issue.record("the first request must create the account: \(String(describing: first))"); return }
        let statement = AccountStore.insertOrFindStatement(input, requestID: "r2", caller: "c", insert: true, claimFor: nil)
        let plan = try await pool.query("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) \(fragment: statement)").rows
            .map { try $0.string("QUERY PLAN") }
        #expect(plan.contains { $0.contains("Insert on accounts") }, "\(plan.joined(separator: "\n"))")
        #expect(!plan.contains { $0.contains("Conflicting Tuples") && !$0.contains("Conflicting Tuples: 0") },
                "\(plan.joined(separator: "\n"))")
        let second = try await pool.withConnection {
            try AccountStore.insertOrFind(input, requestID: "r2", caller: "c", insert: true, claimFor: nil, on: $0)
        }
        guard case .existing(let account) = second else { Issue.record("a repeat must find the row: \(String(describing: second))"); return }
        #expect(account.userID == "plan_repeat" && account.nick == "n")
        await pool.close()
        await database.drop()
    }

    /// A new account claimed for delivery gets its call slot in the statement
    /// that stores it (one round trip less on the request path); a repeat, or an
    /// insert without a claim, leaves the central budget alone.
    @Test func aClaimedNewAccountReservesItsSlotInTheSameStatement() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        func tat() async throws -> Double {
            try await pool.query("""
                SELECT extract(epoch FROM tat)::float8 AS tat FROM rate_limits WHERE api = 'account_import'
                """).rows[0].double("tat")
        }
        let slot = AccountStore.SlotRequest(api: "account_import", rate: 100, maxWaitMilliseconds: 1_000)
        let input = try AccountInput.parse(["user_id": "slot_new"], strategy: .verbatim)
        let before = try await tat()
        let first = try await pool.withConnection {
            try AccountStore.insertOrFind(input, requestID: "r1", caller: "c", insert: true, claimFor: "replica",
                                          reserving: slot, on: $0)
        }
        guard case .created(let account, claimed: true, let reserved?) = first else {
            Issue.record("a claimed new account must come with its slot: \(String(describing: first))"); return
        }
        #expect(account.userID == "slot_new" && account.attempts == 1)
        #expect(reserved.reservation.granted == 1)
        #expect(reserved.reservation.spacing == .milliseconds(10))
        let afterFirst = try await tat()
        #expect(afterFirst > before, "the reservation must move the budget's next free slot")

        // The same account again: found, and no slot taken.
        let repeated = try await pool.withConnection {
            try AccountStore.insertOrFind(input, requestID: "r2", caller: "c", insert: true, claimFor: "replica",
                                          reserving: slot, on: $0)
        }
        guard case .existing = repeated else { Issue.record("a repeat must find the row: \(String(describing: repeated))"); return }
        #expect(try await tat() == afterFirst)

        // A new account stored without a claim (no delivery from this request): no slot either.
        let unclaimed = try AccountInput.parse(["user_id": "slot_unclaimed"], strategy: .verbatim)
        let stored = try await pool.withConnection {
            try AccountStore.insertOrFind(unclaimed, requestID: "r3", caller: "c", insert: true, claimFor: nil,
                                          reserving: slot, on: $0)
        }
        guard case .created(_, claimed: false, slot: nil) = stored else {
            Issue.record("an unclaimed account takes no slot: \(String(describing: stored))"); return
        }
        #expect(try await tat() == afterFirst)
        await pool.close()
        await database.drop()
    }

    /// `audit verify` reads each page through the primary key, in id order, even
    /// where the statistics know none of the events (a trail just written, or the
    /// events since the last ANALYZE): left to the statistics, PostgreSQL sorted
    /// every page on disk and verify took twice as long.
    @Test func auditVerifyPagesFollowThePrimaryKeyWithoutStatistics() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        _ = try await pool.query("""
            INSERT INTO audit_events (request_id, caller, action, user_id, outcome)
            SELECT 'r' || i, 'c', 'account.import', 'u' || i, 'imported' FROM generate_series(1, 50000) AS i
            """)
        for after: Int64 in [0, 25_000] {
            let statement = AuditVerifier.pageStatement(after: after, through: 50_000, limit: 20_000)
            let plan = try await pool.withTransaction { connection in
                try connection.executeScript(AuditVerifier.inIDOrder)
                return try connection.query("EXPLAIN \(fragment: statement)").rows.map { try $0.string("QUERY PLAN") }
            }
            #expect(plan.contains { $0.contains("Index Scan using audit_events_pkey") }, "\(plan.joined(separator: "\n"))")
            #expect(!plan.contains { $0.contains("Sort") || $0.contains("Bitmap") }, "\(plan.joined(separator: "\n"))")
        }
        #expect(try await AuditVerifier(pool: pool, pageSize: 20_000).verify() == AuditVerifier.Report(checked: 50_000, firstBroken: nil))
        await pool.close()
        await database.drop()
    }

    /// Every `GET /audit` filter reads its page through an index in id order,
    /// never the whole trail (issue 11: action and outcome walked the table).
    @Test func everyAuditFilterUsesAnIndex() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        // Written directly, chain trigger and all: 20,000 events, where what an
        // auditor looks for is rare (one in a thousand), so reading in id order and
        // filtering would walk most of the trail for one page.
        _ = try await pool.query("""
            INSERT INTO audit_events (request_id, caller, action, user_id, outcome)
            SELECT 'r' || i, CASE WHEN i % 1000 = 7 THEN 'c7' ELSE 'busy' END,
                   CASE WHEN i % 1000 = 0 THEN 'auth.denied' ELSE 'account.import' END,
                   'u' || i, CASE WHEN i % 1000 = 3 THEN 'rejected' ELSE 'imported' END
            FROM generate_series(1, 20000) AS i
            """)
        _ = try await pool.query("ANALYZE audit_events")
        let filters: [[(name: String, value: String)]] = [
            [("action", "auth.denied")], [("outcome", "rejected")], [("user_id", "u77")], [("caller", "c7")],
            [("action", "account.import"), ("outcome", "rejected")], [("cursor", AuditQuery.encodeCursor(10_000))], [],
        ]
        for items in filters {
            let query = try AuditQuery(items)
            let plan = try await pool.query("""
                EXPLAIN SELECT id FROM audit_events WHERE \(fragment: query.conditions) ORDER BY id DESC LIMIT \(query.limit + 1)
                """).rows.map { try $0.string("QUERY PLAN") }
            #expect(!plan.contains { $0.contains("Seq Scan") || $0.contains("Sort") }, "\(items): \(plan.joined(separator: "\n"))")
            // The filter itself is an index condition, not a filter on rows read in id order.
            let columns = items.map(\.name).filter { ["user_id", "caller", "action", "outcome"].contains($0) }
            if !columns.isEmpty {
                #expect(plan.contains { line in line.contains("Index Cond") && columns.contains { line.contains("(\($0) =") } },
                        "\(items): \(plan.joined(separator: "\n"))")
            }
            #expect(try await query.page(on: pool).events.count <= query.limit)
        }
        await pool.close()
        await database.drop()
    }
}
