import Crypto
import Foundation
import Logging
import PostgresClient
import Testing
@testable import Gateway

@Suite struct SchemaTests {
    @Test func expectedVersionIsTheNewestMigration() throws {
        let migrations = try Migrator.load(from: TestDatabase.schemaDirectory)
        #expect(migrations.last?.version == Migrator.expectedVersion)
    }

    @Test func migrateIsIdempotentAndReadyzFollowsTheSchema() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let pool = database.pool(size: 2)
        let migrator = Migrator(pool: pool, logger: TestLogger.make())
        let migrations = try Migrator.load(from: TestDatabase.schemaDirectory)
        #expect(try await pool.withConnection { try Migrator.currentVersion(on: $0) } == 0)
        // Two at once: the advisory lock lets one apply, the other finds nothing to do.
        async let first = migrator.migrate(migrations)
        async let second = migrator.migrate(migrations)
        let applied = try await [first, second]
        #expect(applied.flatMap { $0 }.sorted() == migrations.map(\.version))
        #expect(try await migrator.migrate(migrations).isEmpty)
        #expect(try await pool.withConnection { try Migrator.currentVersion(on: $0) } == Migrator.expectedVersion)

        var edited = migrations
        edited[0].sql += "\n-- edited"
        await #expect(throws: Migrator.Failure.self) { try await migrator.migrate(edited) }
        await pool.close()
        await database.drop()
    }

    @Test func auditTrailIsAppendOnlyForTheServiceRole() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        let audit = AuditLog(pool: pool, logger: TestLogger.make(), metrics: GatewayMetrics())
        try await audit.append(AuditEvent(requestID: "r1", caller: "c", action: .accountImport, userID: "u", outcome: .imported))
        for statement in ["UPDATE audit_events SET outcome = 'forged'", "DELETE FROM audit_events", "TRUNCATE audit_events"] {
            await #expect(throws: PostgresError.self, "\(statement) must be refused") {
                _ = try await pool.query(PostgresQuery(unsafeSQL: statement))
            }
        }
        #expect(try await pool.query("SELECT outcome FROM audit_events").rows.map { try $0.string("outcome") } == ["imported"])
        await pool.close()
        await database.drop()
    }

    @Test func chainHashesMatchTheSwiftCanonicalForm() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 2)
        let audit = AuditLog(pool: pool, logger: TestLogger.make(), metrics: GatewayMetrics())
        let events = [
            AuditEvent(requestID: "r|1", caller: "svc", action: .accountImport, userID: "ü|ser", chatUserID: "x",
                       outcome: .imported, httpStatus: 201, attempt: 1, latencyMilliseconds: 12, idempotencyKey: "k"),
            AuditEvent(requestID: nil, caller: nil, action: .upstreamAccountImport, userID: "u", outcome: .transient,
                       tencentErrorCode: 70500, tencentErrorInfo: "internal: error", attempt: 2),
            AuditEvent(requestID: "r3", caller: nil, action: .authDenied, outcome: .unauthenticated, httpStatus: 401),
            AuditEvent(requestID: "r4", caller: "svc", action: .authDenied, outcome: .forbidden, httpStatus: 403, attempt: 7,
                       route: "/accounts/{user_id}"),
        ]
        for event in events { try await audit.append(event) }
        let rows = try await pool.query("""
            SELECT id, (extract(epoch FROM at) * 1000000)::bigint AS at_us, prev_hash, hash FROM audit_events ORDER BY id
            """).rows
        var previous = String(repeating: "0", count: 64)
        for (event, row) in zip(events, rows) {
            let id = try row.int64("id")
            let canonical = event.canonical(previousHash: previous, id: id, atMicroseconds: try row.int64("at_us"))
            let digest = SHA256.hash(data: Array(canonical.utf8)).map { String(format: "%02x", $0) }.joined()
            #expect(try row.string("prev_hash") == previous)
            #expect(try row.string("hash") == digest)
            previous = digest
        }
        #expect(rows.count == events.count)
        await pool.close()
        await database.drop()
    }
}

@Suite struct AuditBatchingTests {
    @Test func concurrentEventsShareInsertsAndKeepOneChain() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 4)
        let audit = AuditLog(pool: pool, logger: TestLogger.make(), metrics: GatewayMetrics())
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<300 {
                group.addTask {
                    try await audit.append(AuditEvent(requestID: "r\(i)", caller: "c", action: .accountLookup, outcome: .found))
                }
            }
            try await group.waitForAll()
        }
        let rows = try await pool.query("SELECT id, prev_hash, hash FROM audit_events ORDER BY id").rows
        #expect(rows.count == 300)
        #expect(try rows.map { try $0.int64("id") } == Array(1...300))
        for (previous, row) in zip(rows, rows.dropFirst()) {
            #expect(try row.string("prev_hash") == previous.string("hash"))
        }
        await pool.close()
        await database.drop()
    }
}

@Suite struct AuditChainBatchTests {
    static let insertEvents = """
        INSERT INTO audit_events (request_id, caller, action, user_id, outcome, prev_hash, hash, at, id)
        SELECT 'r' || g, 'svc', 'account.lookup', 'u' || g, 'found', 'forged', 'forged', now(), 0 FROM generate_series(1, %d) g
        """

    /// The head travels between the events of a transaction and is written once
    /// per statement: every boundary (rows of one statement, statements of one
    /// transaction, transactions, a rolled-back savepoint) must still chain.
    @Test func theChainHoldsAcrossStatementTransactionAndSavepointBoundaries() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 2)
        try await pool.withConnection { connection in
            try connection.executeScript("""
                BEGIN;
                \(String(format: Self.insertEvents, 3));
                \(String(format: Self.insertEvents, 2));
                COMMIT;
                \(String(format: Self.insertEvents, 4));
                BEGIN;
                \(String(format: Self.insertEvents, 2));
                SAVEPOINT s;
                \(String(format: Self.insertEvents, 5));
                ROLLBACK TO SAVEPOINT s;
                \(String(format: Self.insertEvents, 1));
                COMMIT;
                BEGIN;
                \(String(format: Self.insertEvents, 3));
                ROLLBACK;
                """)
        }
        // Another session afterwards must start from the committed head.
        let audit = AuditLog(pool: pool, logger: TestLogger.make(), metrics: GatewayMetrics())
        try await audit.append(AuditEvent(requestID: "last", caller: "svc", action: .accountLookup, outcome: .found))

        let rows = try await pool.query("SELECT id, prev_hash, hash FROM audit_events ORDER BY id").rows
        #expect(try rows.map { try $0.int64("id") } == Array(1...13))
        #expect(try rows.allSatisfy { try $0.string("hash") != "forged" && $0.string("prev_hash") != "forged" })
        let head = try #require(try await pool.query("SELECT last_id, last_hash FROM audit_chain").rows.first)
        #expect(try head.int64("last_id") == 13)
        #expect(try head.string("last_hash") == rows.last?.string("hash"))
        #expect(try await AuditVerifier(pool: pool, pageSize: 4).verify() == AuditVerifier.Report(checked: 13, firstBroken: nil))
        await pool.close()
        await database.drop()
    }

    @Test func aChangeInsideAMultiRowInsertIsNamed() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 2)
        _ = try await pool.query(PostgresQuery(unsafeSQL: String(format: Self.insertEvents, 10)))
        #expect(try await AuditVerifier(pool: pool).verify() == AuditVerifier.Report(checked: 10, firstBroken: nil))
        try await AuditVerifierTests.tamper(pool, "UPDATE audit_events SET user_id = 'someone_else' WHERE id = 6")
        let report = try await AuditVerifier(pool: pool, pageSize: 4).verify()
        #expect(report.firstBroken?.id == 6)
        #expect(report.checked == 5)
        await pool.close()
        await database.drop()
    }
}

@Suite(.serialized) struct AuditVerifierTests {
    /// A database with `count` events, and a connection that may tamper with them
    /// the way the table's owner could (granting itself UPDATE/DELETE, disabling the guards).
    func withTrail(_ count: Int, _ body: (PostgresPool) async throws -> Void) async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 2)
        let audit = AuditLog(pool: pool, logger: TestLogger.make(), metrics: GatewayMetrics())
        for i in 1...count {
            try await audit.append(AuditEvent(requestID: "r\(i)", caller: "svc", action: .accountImport, userID: "u\(i)", outcome: .imported, httpStatus: 201))
        }
        do {
            try await body(pool)
        } catch {
            await pool.close(); await database.drop(); throw error
        }
        await pool.close()
        await database.drop()
    }

    static func tamper(_ pool: PostgresPool, _ statement: String) async throws {
        try await pool.withConnection { connection in
            try connection.executeScript("""
                GRANT UPDATE, DELETE ON audit_events TO CURRENT_USER;
                ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update;
                \(statement);
                ALTER TABLE audit_events ENABLE TRIGGER audit_events_no_update;
                """)
        }
    }

    @Test func anIntactTrailVerifies() async throws {
        try await withTrail(12) { pool in
            let report = try await AuditVerifier(pool: pool, pageSize: 5).verify()
            #expect(report.checked == 12 && report.firstBroken == nil)
        }
    }

    @Test func eventsWrittenDuringAVerificationAreNotTakenForTampering() async throws {
        try await withTrail(20) { pool in
            let audit = AuditLog(pool: pool, logger: TestLogger.make(), metrics: GatewayMetrics())
            let writer = Task {
                for i in 0..<200 {
                    try await audit.append(AuditEvent(requestID: "late\(i)", caller: "svc", action: .accountLookup, outcome: .found))
                }
            }
            for _ in 0..<5 {
                #expect(try await AuditVerifier(pool: pool, pageSize: 7).verify().firstBroken == nil)
            }
            try await writer.value
            #expect(try await AuditVerifier(pool: pool).verify() == AuditVerifier.Report(checked: 220, firstBroken: nil))
        }
    }

    @Test func aChangedEventIsNamed() async throws {
        try await withTrail(8) { pool in
            try await Self.tamper(pool, "UPDATE audit_events SET outcome = 'rejected' WHERE id = 5")
            let report = try await AuditVerifier(pool: pool, pageSize: 3).verify()
            #expect(report.firstBroken?.id == 5)
            #expect(report.checked == 4)
        }
    }

    @Test func aRemovedEventIsNamed() async throws {
        try await withTrail(8) { pool in
            try await Self.tamper(pool, "DELETE FROM audit_events WHERE id = 3")
            #expect(try await AuditVerifier(pool: pool).verify().firstBroken?.id == 3)
        }
    }

    @Test func eventsRemovedFromTheEndAreNoticed() async throws {
        try await withTrail(8) { pool in
            try await Self.tamper(pool, "DELETE FROM audit_events WHERE id >= 7")
            let report = try await AuditVerifier(pool: pool).verify()
            #expect(report.firstBroken?.id == 7)
            #expect(report.checked == 6)
        }
    }
}
