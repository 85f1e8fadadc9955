import Foundation
import PostgresClient
import Testing
@testable import Gateway

/// Concurrent requests' intents stored by one statement find what the
/// one-request statement (`AccountStore.insertOrFind`) would find, each its own.
@Suite struct IntentWriterTests {
    private static func request(_ userID: String, chat: String? = nil, nick: String? = nil, insert: Bool = true,
                                claimFor owner: String? = nil) -> IntentWriter.Request {
        IntentWriter.Request(input: AccountInput(userID: userID, chatUserID: chat ?? "c_" + userID, nick: nick, faceURL: nil),
                             requestID: "req-" + userID, caller: "caller", insert: insert, claimFor: owner)
    }

    @Test func oneStatementCreatesClaimsFindsAndLeavesConflictsToTheLockingPath() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 2)
        _ = try await pool.query("""
            INSERT INTO accounts (user_id, chat_user_id, nick, status, next_attempt_at, attempts, imported_at)
            VALUES ('old', 'c_old', 'Ann', 'imported', now(), 1, now())
            """)
        let requests = [
            Self.request("new_claimed", nick: "N", claimFor: "replica-a"),
            Self.request("new_queued"),
            Self.request("old", nick: "Ann"),
            Self.request("over_quota", insert: false),
            // Its chat_user_id is taken by another user_id: neither row, as alone.
            Self.request("taken_chat", chat: "c_old"),
        ]
        let found = try IntentWriter.found(in: try await pool.query(IntentWriter.statement(requests)), for: requests)
        #expect(found.count == 5)
        guard case .created(let claimed, claimed: true, slot: nil)? = found[0] else {
            Issue.record("new_claimed: \(String(describing: found[0]))")
            return
        }
        #expect(claimed.userID == "new_claimed" && claimed.nick == "N" && claimed.status == .pending && claimed.attempts == 1)
        guard case .created(let queued, claimed: false, slot: nil)? = found[1] else {
            Issue.record("new_queued: \(String(describing: found[1]))")
            return
        }
        #expect(queued.userID == "new_queued" && queued.attempts == 0)
        guard case .existing(let old)? = found[2] else {
            Issue.record("old: \(String(describing: found[2]))")
            return
        }
        #expect(old.status == .imported && old.nick == "Ann")
        #expect(found[3] == nil && found[4] == nil)

        let rows = try await pool.query("""
            SELECT user_id, coalesce(lease_owner, '-') AS owner, (lease_until > now()) IS TRUE AS leased, request_id, requested_by
            FROM accounts ORDER BY user_id
            """).rows
        #expect(try rows.map { try $0.string("user_id") } == ["new_claimed", "new_queued", "old"])
        #expect(try rows[0].string("owner") == "replica-a" && rows[0].bool("leased"))
        #expect(try rows[1].string("owner") == "-" && !rows[1].bool("leased"))
        #expect(try rows[0].string("request_id") == "req-new_claimed" && rows[0].string("requested_by") == "caller")
        await database.drop()
    }

    @Test func aStatementTakesEachAccountOnceAndAtMostTheBatchLimit() {
        let distinct = (1...250).map { Self.request("u\($0)") }
        #expect(IntentWriter.nextBatch(distinct) == IntentWriter.maxBatch)
        // The same user_id, or the same chat_user_id, waits for the next statement.
        #expect(IntentWriter.nextBatch([Self.request("a"), Self.request("b"), Self.request("a")]) == 2)
        #expect(IntentWriter.nextBatch([Self.request("a", chat: "x"), Self.request("b", chat: "x")]) == 1)
        #expect(IntentWriter.nextBatch([Self.request("a")]) == 1)
    }

    @Test func concurrentRequestsThroughTheGroupEachGetTheirOwnAccount() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 2)
        let writer = IntentWriter(pool: pool, logger: TestLogger.make())
        let found = try await withThrowingTaskGroup(of: (Int, AccountStore.Found?).self) { group in
            for i in 1...60 {
                group.addTask { (i, try await writer.insertOrFind(Self.request("many_\(i)", nick: "n\(i)"))) }
            }
            return try await group.reduce(into: [Int: AccountStore.Found?]()) { $0[$1.0] = $1.1 }
        }
        for i in 1...60 {
            guard case .created(let account, claimed: false, _)?? = found[i] else {
                Issue.record("many_\(i): \(String(describing: found[i]))")
                continue
            }
            #expect(account.userID == "many_\(i)" && account.nick == "n\(i)")
        }
        #expect(try await pool.query("SELECT count(*) AS n FROM accounts").rows[0].int("n") == 60)
        await database.drop()
    }
}
