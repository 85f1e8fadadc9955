import Foundation
import PostgresClient
import Testing
@testable import Gateway

/// Statements that run on every upstream call must find their rows through the
/// primary key: a sequential scan costs time in proportion to the table and
/// went unseen until the singles flood slowed down (5.5 ms per call at 20,000 accounts).
@Suite struct HotPathPlanTests {
    @Test func recordingAnOutcomeReadsNoWholeTable() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        _ = try await pool.query("""
            INSERT INTO accounts (user_id, chat_user_id, status, next_attempt_at)
            SELECT 'plan_' || i, 'plan_' || i, 'pending', now() FROM generate_series(1, 20000) AS i
            """)
        _ = try await pool.query("ANALYZE accounts")
        let outcomes = (1...100).map { i in
            ImportDelivery.OutcomeRow("plan_\(i)", sent: UpstreamAccount(chatUserID: "plan_\(i)", nick: nil, faceURL: nil),
                                      decision: i % 2 == 0 ? .imported : .retry(after: .seconds(1), reason: .unexplained, code: 72000, info: "?"))
        }
        let event = AuditEvent(requestID: "r", caller: nil, action: .upstreamMultiaccountImport, outcome: .partial)
        let statement = ImportDelivery.recordStatement(outcomes, event: event, owner: "replica", maxUnexplained: 5)
        let plan = try await pool.query("EXPLAIN \(fragment: statement)").rows.map { try $0.string("QUERY PLAN") }
        #expect(!plan.contains { $0.contains("Seq Scan on accounts") }, "\(plan.joined(separator: "\n"))")
        await pool.close()
        await database.drop()
    }
}
