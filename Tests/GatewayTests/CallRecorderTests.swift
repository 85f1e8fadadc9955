import Foundation
import PostgresClient
import Testing
@testable import Gateway

/// Calls that finish together are recorded together: one statement, one
/// transaction (and one hold of the audit chain's lock) for many.
@Suite struct CallRecorderTests {
    @Test func callsFinishingTogetherShareAStatementAndEachGetsItsOwnAccounts() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 2)
        let count = 40
        _ = try await pool.query("""
            INSERT INTO accounts (user_id, chat_user_id, status, next_attempt_at, lease_owner, lease_until, attempts)
            SELECT 'gc_' || i, 'gc_' || i, 'pending', now(), 'replica', now() + interval '30 seconds', 1
            FROM generate_series(1, \(count)) AS i
            """)
        let store = PostgresLeaseStore(pool: pool)
        let recorder = CallRecorder(logger: TestLogger.make()) { calls in
            try await store.record(calls, owner: "replica", maxUnexplained: 5)
        }
        let recorded = try await withThrowingTaskGroup(of: (String, [Account]).self) { group in
            for i in 1...count {
                group.addTask {
                    let userID = "gc_\(i)"
                    let call = ImportDelivery.RecordedCall(
                        outcomes: [ImportDelivery.OutcomeRow(userID, sent: UpstreamAccount(chatUserID: userID, nick: nil, faceURL: nil),
                                                             decision: .imported)],
                        event: AuditEvent(requestID: "r\(i)", caller: nil, action: .upstreamAccountImport, userID: userID,
                                          outcome: .imported))
                    return (userID, try await recorder.record(call))
                }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(recorded.count == count)
        #expect(recorded.allSatisfy { userID, accounts in accounts.map(\.userID) == [userID] && accounts[0].status == .imported })
        let transactions = try await pool.query("SELECT count(DISTINCT xmin::text) AS n FROM audit_events").rows[0].int("n")
        #expect(transactions < count, "\(transactions) transactions for \(count) calls: nothing was grouped")
        let report = try await AuditVerifier(pool: pool).verify()
        #expect(report.firstBroken == nil && report.checked == count)
        await pool.close()
        await database.drop()
    }

    @Test func aBatchNeverRecordsAnAccountTwiceAndStaysWithinItsSize() {
        let queue = [["a"], ["b", "c"], ["a"], ["d"]]
        #expect(CallRecorder.nextBatch(queue, maxOutcomes: 10) { $0 } == [["a"], ["b", "c"]])
        #expect(CallRecorder.nextBatch(queue, maxOutcomes: 2) { $0 } == [["a"]])
        #expect(CallRecorder.nextBatch([["a", "b", "c"]], maxOutcomes: 2) { $0 } == [["a", "b", "c"]], "the first call always goes")
        #expect(CallRecorder.nextBatch([[String]](), maxOutcomes: 2) { $0 }.isEmpty)
    }
}
