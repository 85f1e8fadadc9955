import Foundation
import PostgresClient
import Testing
@testable import Gateway

/// The SQL of `PostgresLeaseStore` and the rules `MemoryLeaseStore` applies
/// (`Lease`, `OutcomeRow`) give the same answers, so the delivery tests on the
/// in-memory store speak for the real one.
@Suite struct LeaseStoreAgreementTests {
    /// One account as both stores hold it: status, due in `dueIn` seconds, leased by `owner` until `leaseIn` seconds.
    struct Seed {
        var userID: String
        var status: Account.Status = .pending
        var dueIn: Double = -1
        var owner: String?
        var leaseIn: Double?
        var nick: String?
        var unexplained = 0
    }

    static let seeds = [
        Seed(userID: "free"),
        Seed(userID: "held", owner: "replica-b", leaseIn: 20),
        Seed(userID: "abandoned", owner: "replica-b", leaseIn: -1),
        Seed(userID: "later", dueIn: 60),
        Seed(userID: "imported", status: .imported),
        Seed(userID: "failed", status: .failed),
        Seed(userID: "renamed", nick: "new"),
        Seed(userID: "puzzling", unexplained: 4),
    ]

    func seed(_ pool: PostgresPool, _ memory: MemoryLeaseStore) async throws {
        for seed in Self.seeds {
            _ = try await pool.query("""
                INSERT INTO accounts (user_id, chat_user_id, nick, status, next_attempt_at, lease_owner, lease_until, unexplained_attempts)
                VALUES (\(seed.userID), \("c-" + seed.userID), \(seed.nick), \(seed.status.rawValue),
                        now() + \(seed.dueIn)::float8 * interval '1 second', \(seed.owner),
                        now() + \(seed.leaseIn)::float8 * interval '1 second', \(seed.unexplained)::integer)
                """)
            memory.add(seed.userID, nick: seed.nick) { row in
                row.account.status = seed.status
                row.nextAttemptAt = Date() + seed.dueIn
                row.leaseOwner = seed.owner
                row.leaseUntil = seed.leaseIn.map { Date() + $0 }
                row.unexplainedAttempts = seed.unexplained
            }
        }
    }

    /// Both stores seeded alike (PostgreSQL in a throwaway database), for `body` to compare.
    func withSeededStores(_ body: (_ pool: PostgresPool, _ memory: MemoryLeaseStore, _ stores: [(String, LeaseStore)]) async throws -> Void)
        async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        let memory = MemoryLeaseStore()
        do {
            try await seed(pool, memory)
            try await body(pool, memory, [("postgres", PostgresLeaseStore(pool: pool)), ("memory", memory)])
        } catch {
            await pool.close()
            await database.drop()
            throw error
        }
        await pool.close()
        await database.drop()
    }

    @Test func bothStoresClaimGiveBackAndRecordAlike() async throws {
        try await withSeededStores { pool, memory, stores in
            let everyone = Self.seeds.map(\.userID)

            var answers: [[String]] = []
            for (_, store) in stores {
                var seen: [String] = []
                let claimed = try await store.claim(everyone, owner: "replica-a").map(\.account.userID).sorted()
                seen.append("claimed \(claimed)")
                seen.append("again \(try await store.claim(everyone, owner: "replica-b").map(\.account.userID))")
                try await store.giveBack(["abandoned", "held"], owner: "replica-a", dueIn: .seconds(30))
                seen.append("after giving back \(try await store.claimDue(limit: 10, owner: "replica-c").map(\.account.userID))")

                // Outcomes: sent with a nick the account no longer has; the last unexplained answer; a plain success.
                let sentOld = UpstreamAccount(chatUserID: "c-renamed", nick: "old", faceURL: nil)
                let unexplained = DeliveryPolicy().decide(.listedInFailAccounts, attempt: 1)
                let outcomes = [
                    ImportDelivery.OutcomeRow("renamed", sent: sentOld, decision: .imported),
                    ImportDelivery.OutcomeRow("puzzling", sent: UpstreamAccount(chatUserID: "c-puzzling", nick: nil, faceURL: nil), decision: unexplained),
                    ImportDelivery.OutcomeRow("free", sent: UpstreamAccount(chatUserID: "c-free", nick: nil, faceURL: nil), decision: .imported),
                    ImportDelivery.OutcomeRow("imported", sent: UpstreamAccount(chatUserID: "c-imported", nick: nil, faceURL: nil), decision: .rejected(code: 1, info: "x")),
                ]
                let event = AuditEvent(requestID: "r", caller: nil, action: .upstreamMultiaccountImport, outcome: .partial)
                let recorded = try await store.record([ImportDelivery.RecordedCall(outcomes: outcomes, event: event)],
                                                      owner: "replica-a", maxUnexplained: 5)
                    .sorted { $0.userID < $1.userID }
                seen.append("recorded \(recorded.map { "\($0.userID)=\($0.status.rawValue),imported_at:\($0.importedAt != nil),exists:\($0.upstreamExists)" })")
                seen.append("released \(try await store.releaseAll(owner: "replica-c"))")
                answers.append(seen)
            }
            #expect(answers[0] == answers[1])
            #expect(answers[0][0] == "claimed [\"abandoned\", \"free\", \"puzzling\", \"renamed\"]")
            #expect(answers[0][3] == "recorded [\"free=imported,imported_at:true,exists:true\", "
                + "\"puzzling=failed,imported_at:false,exists:false\", \"renamed=pending,imported_at:false,exists:true\"]")
        }
    }

    /// A request's own event goes with its account's outcome only when the
    /// record leaves the account as the event says (imported, or failed), never
    /// when the profile changed meanwhile and the account stays pending; in both
    /// stores alike, and in the chain after the call's event.
    @Test func aRequestEventIsWrittenWithItsOutcomeOnlyWhenTheOutcomeIsAsPredicted() async throws {
        try await withSeededStores { pool, memory, stores in
            var answers: [[String]] = []
            for (_, store) in stores {
                _ = try await store.claim(["free", "renamed"], owner: "replica-a")
                // Two calls recorded in one statement, as `CallRecorder` groups them.
                var calls: [ImportDelivery.RecordedCall] = []
                for (userID, sentNick) in [("free", nil), ("renamed", "old")] as [(String, String?)] {
                    let call = AuditEvent(requestID: "r-\(userID)", caller: "c", action: .upstreamAccountImport, userID: userID,
                                          outcome: .imported)
                    let request = AuditEvent(requestID: "r-\(userID)", caller: "c", action: .accountImport, userID: userID,
                                             outcome: .imported, httpStatus: 201)
                    let outcome = ImportDelivery.OutcomeRow(userID, sent: UpstreamAccount(chatUserID: "c-" + userID, nick: sentNick, faceURL: nil),
                                                            decision: .imported)
                    calls.append(ImportDelivery.RecordedCall(
                        outcomes: [outcome], event: call,
                        requestEvents: [ImportDelivery.ConditionalEvent(event: request, userID: userID, status: .imported)]))
                }
                let recorded = try await store.record(calls, owner: "replica-a", maxUnexplained: 5).sorted { $0.userID < $1.userID }
                let written = recorded.map { "\($0.userID)=\($0.status.rawValue)" }
                let events: [String]
                if store is MemoryLeaseStore {
                    events = memory.events.map { "\($0.action.rawValue) \($0.userID ?? "")" }
                } else {
                    events = try await pool.query("SELECT action, user_id FROM audit_events ORDER BY id").rows
                        .map { "\(try $0.string("action")) \(try $0.string("user_id"))" }
                }
                answers.append(written + events)
            }
            #expect(answers[0] == answers[1])
            #expect(answers[0] == [
                "free=imported", "renamed=pending",
                "upstream.account_import free", "account.import free", "upstream.account_import renamed",
            ])
            // The chain holds across the conditional insert.
            let report = try await AuditVerifier(pool: pool).verify()
            #expect(report.firstBroken == nil && report.checked == 3, "\(report)")
        }
    }
}
