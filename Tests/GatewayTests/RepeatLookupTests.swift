import Foundation
import PostgresClient
import Testing
@testable import Gateway

/// Repeats of accounts imported as asked are answered, and audited, by one
/// statement per group; everything else is left to the usual path untouched.
@Suite struct RepeatLookupTests {
    private static func seed(_ pool: PostgresPool) async throws {
        _ = try await pool.query("""
            INSERT INTO accounts (user_id, chat_user_id, nick, face_url, status, next_attempt_at, attempts, imported_at,
                                  last_error_code, last_error_info)
            VALUES ('imported', 'c_imported', 'Ann', NULL, 'imported', now(), 2, now(), 70169, 'busy earlier'),
                   ('imported_nil_info', 'c_imported_nil_info', NULL, 'https://example.com/a.png', 'imported', now(), 1, now(), 70169, NULL),
                   ('pending', 'c_pending', 'Bo', NULL, 'pending', now(), 0, NULL, NULL, NULL),
                   ('failed', 'c_failed', 'Cy', NULL, 'failed', now(), 1, NULL, 70402, 'bad nick')
            """)
    }

    private static func template(_ requestID: String, _ userID: String) -> AuditEvent {
        AuditEvent(requestID: requestID, caller: "caller", action: .accountImport, userID: userID, chatUserID: "c_" + userID,
                   outcome: .invalid, idempotencyKey: requestID == "r1" ? "key-1" : nil)
    }

    @Test func onlyUnchangedImportedAccountsAreAnsweredEachWithTheEventTheEdgeWouldWrite() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 2)
        try await Self.seed(pool)
        let asked: [(String, AccountInput)] = [
            ("r1", AccountInput(userID: "imported", chatUserID: "c_imported", nick: "Ann", faceURL: nil)),
            ("r2", AccountInput(userID: "imported", chatUserID: "c_imported", nick: nil, faceURL: nil)),
            ("r3", AccountInput(userID: "imported", chatUserID: "c_imported", nick: "Changed", faceURL: nil)),
            ("r4", AccountInput(userID: "imported", chatUserID: "c_imported", nick: "Ann", faceURL: "https://example.com/new.png")),
            ("r5", AccountInput(userID: "imported_nil_info", chatUserID: "c_imported_nil_info", nick: nil,
                                faceURL: "https://example.com/a.png")),
            ("r6", AccountInput(userID: "imported_nil_info", chatUserID: "c_imported_nil_info", nick: "New", faceURL: nil)),
            ("r7", AccountInput(userID: "pending", chatUserID: "c_pending", nick: "Bo", faceURL: nil)),
            ("r8", AccountInput(userID: "failed", chatUserID: "c_failed", nick: "Cy", faceURL: nil)),
            ("r9", AccountInput(userID: "absent", chatUserID: "c_absent", nick: nil, faceURL: nil)),
        ]
        let started = ContinuousClock.now
        let requests = asked.map { requestID, input in
            RepeatLookup.Request(input: input, event: RepeatLookup.Event(template: Self.template(requestID, input.userID), started: started))
        }
        let rows = try await pool.query(RepeatLookup.statement(requests)).rows
        let answered = try Set(rows.filter { try $0.bool("answered") }.map { try $0.int("position") })
        #expect(answered == [1, 2, 5], "answered positions: \(answered.sorted())")

        // Each written event is the one the edge writes for an already_imported answer.
        let written = try await pool.query("""
            SELECT request_id, caller, action, user_id, chat_user_id, outcome, http_status, tencent_error_code,
                   tencent_error_info, attempt, latency_ms, idempotency_key FROM audit_events ORDER BY id
            """).rows
        #expect(try written.map { try $0.string("request_id") } == ["r1", "r2", "r5"])
        for row in written {
            let requestID = try row.string("request_id")
            let input = asked.first { $0.0 == requestID }!.1
            let account = try #require(try await pool.withConnection { try AccountStore.fetch(input.userID, on: $0) })
            let expected = GatewayApplication.event(Self.template(requestID, input.userID),
                                                    for: ImportService.Outcome(kind: .alreadyImported, account: account))
            #expect(try row.optionalString("caller") == expected.caller)
            #expect(try row.string("action") == expected.action.rawValue)
            #expect(try row.optionalString("user_id") == expected.userID)
            #expect(try row.optionalString("chat_user_id") == expected.chatUserID)
            #expect(try row.string("outcome") == expected.outcome.rawValue)
            #expect(try row.optionalInt("http_status") == expected.httpStatus)
            #expect(try row.optionalInt("tencent_error_code") == expected.tencentErrorCode)
            #expect(try row.optionalString("tencent_error_info") == expected.tencentErrorInfo)
            #expect(try row.optionalInt("attempt") == expected.attempt)
            #expect(try row.optionalString("idempotency_key") == expected.idempotencyKey)
            #expect(try row.optionalInt("latency_ms") != nil)
        }
        #expect(try await AuditVerifier(pool: pool).verify().firstBroken == nil)
        await pool.close()
        await database.drop()
    }

    @Test func repeatsArrivingTogetherShareAStatementAndEachIsAnsweredOnce() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 2)
        try await Self.seed(pool)
        let lookup = RepeatLookup(pool: pool, logger: TestLogger.make())
        let count = 40
        let answers = try await withThrowingTaskGroup(of: (Int, Account?).self) { group in
            for i in 1...count {
                group.addTask {
                    // Every fourth asks for a changed nick: not answered, no event.
                    let input = AccountInput(userID: "imported", chatUserID: "c_imported", nick: i % 4 == 0 ? "Other" : "Ann", faceURL: nil)
                    let event = RepeatLookup.Event(template: Self.template("r\(i)", "imported"), started: .now)
                    return (i, try await lookup.answer(input, event: event))
                }
            }
            return try await group.reduce(into: [Int: Account?]()) { $0.updateValue($1.1, forKey: $1.0) }
        }
        #expect(answers.count == count)
        #expect(answers.allSatisfy { i, account in (account != nil) == (i % 4 != 0) })
        #expect(answers.values.compactMap { $0 }.allSatisfy { $0.userID == "imported" && $0.status == .imported })
        let events = try await pool.query("""
            SELECT count(*) AS n, count(DISTINCT request_id) AS requests, count(DISTINCT xmin::text) AS transactions
            FROM audit_events
            """).rows[0]
        #expect(try events.int("n") == count - count / 4)
        #expect(try events.int("requests") == count - count / 4)
        #expect(try events.int("transactions") < count - count / 4, "nothing was grouped")
        #expect(try await AuditVerifier(pool: pool).verify().firstBroken == nil)
        await pool.close()
        await database.drop()
    }

    @Test func aFloodOfNewAccountsStopsAskingButProbesForRepeats() {
        var rate = RepeatLookup.HitRate()
        let first = rate.worthAsking()
        #expect(first, "repeats are assumed until seen otherwise")
        for _ in 0..<100 { rate.record(hit: false) }
        var asked = 0
        for _ in 0..<64 where rate.worthAsking() { asked += 1 }
        #expect(asked == 64 / RepeatLookup.HitRate.probeEvery, "only probes ask: \(asked) of 64")
        // Repeats come back: the probes see them and everyone asks again.
        for _ in 0..<40 { rate.record(hit: true) }
        var all = true
        for _ in 0..<10 where !rate.worthAsking() { all = false }
        #expect(all)
    }
}
