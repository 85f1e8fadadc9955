import Foundation
import PostgresClient
import Testing
@testable import Gateway

/// The service role after `migrate --service-role`: it can do its work and append
/// to the audit trail, and nothing that changes the schema or rewrites the trail.
/// (Every GatewayHarness test also runs the application as this role.)
@Suite(.serialized) struct LeastPrivilegeTests {
    private func withServiceRole(_ body: (_ service: PostgresPool, _ owner: PostgresPool) async throws -> Void) async throws {
        let database = try await TestDatabase.create()
        try await database.grantServiceRole()
        let service = try database.servicePool(size: 1)
        let owner = database.pool(size: 1)
        do {
            try await body(service, owner)
        } catch {
            await service.close(); await owner.close(); await database.drop()
            throw error
        }
        await service.close(); await owner.close(); await database.drop()
    }

    @Test func theServiceRoleAppendsButCannotRewriteTheTrail() async throws {
        try await withServiceRole { service, owner in
            let audit = AuditLog(pool: service, logger: TestLogger.make(), metrics: GatewayMetrics())
            try await audit.append(AuditEvent(requestID: "r1", caller: "c", action: .accountImport, userID: "u", outcome: .imported))
            let refused = [
                "UPDATE audit_events SET outcome = 'forged'",
                "DELETE FROM audit_events",
                "TRUNCATE audit_events",
                "UPDATE audit_chain SET last_hash = repeat('0', 64)",
                "INSERT INTO audit_chain (singleton, last_id, last_hash) VALUES (false, 0, '')",
                "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update",
                "ALTER TABLE audit_events DISABLE TRIGGER USER",
                "ALTER TABLE audit_events DISABLE TRIGGER ALL",
                "DROP TABLE accounts",
                "DROP TABLE audit_events",
                "DROP TRIGGER audit_events_chain ON audit_events",
                "CREATE OR REPLACE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$",
                "ALTER FUNCTION audit_events_chain() SECURITY INVOKER",
                "ALTER TABLE accounts ADD COLUMN forged text",
                "CREATE TABLE forged (x int)",
                "INSERT INTO callers (name, token_sha256, roles) VALUES ('forged', repeat('0', 64), ARRAY['auditor'])",
                "DELETE FROM accounts",
                "INSERT INTO schema_migrations (version, name, checksum) VALUES (999, 'forged', '')",
            ]
            for statement in refused {
                await #expect(throws: PostgresError.self, "\(statement) must be refused to the service role") {
                    _ = try await service.query(PostgresQuery(unsafeSQL: statement))
                }
            }
            // A GRANT by a non-owner only warns: what counts is that it changed nothing.
            _ = try? await service.query("GRANT UPDATE, DELETE, TRUNCATE ON audit_events TO gateway_service")
            let privileges = try await service.query("""
                SELECT has_table_privilege('audit_events', 'UPDATE') OR has_table_privilege('audit_events', 'DELETE')
                    OR has_table_privilege('audit_events', 'TRUNCATE') OR has_table_privilege('audit_chain', 'UPDATE') AS any
                """)
            #expect(try privileges.rows.first?.bool("any") == false)
            #expect(try await owner.query("SELECT count(*) AS n FROM audit_events").rows.first?.int("n") == 1)
            #expect(try await AuditVerifier(pool: service).verify().firstBroken == nil)
        }
    }

    /// The chain trigger runs as the owner with a fixed search_path: a temporary
    /// audit_chain of the caller's cannot stand in for the real head.
    @Test func aTemporaryTableCannotHijackTheChain() async throws {
        try await withServiceRole { service, owner in
            let audit = AuditLog(pool: service, logger: TestLogger.make(), metrics: GatewayMetrics())
            try await audit.append(AuditEvent(requestID: "r1", caller: "c", action: .accountImport, outcome: .imported))
            try await service.withConnection { connection in
                try connection.executeScript("""
                    CREATE TEMP TABLE audit_chain (singleton boolean PRIMARY KEY, last_id bigint, last_hash text);
                    INSERT INTO pg_temp.audit_chain VALUES (true, 0, repeat('f', 64));
                    SET search_path = pg_temp, public;
                    INSERT INTO public.audit_events (action, outcome) VALUES ('account.lookup', 'found');
                    """)
            }
            let rows = try await owner.query("SELECT id, prev_hash FROM audit_events ORDER BY id").rows
            #expect(try rows.map { try $0.int("id") } == [1, 2])
            #expect(try rows.last?.string("prev_hash") != String(repeating: "f", count: 64))
            #expect(try await AuditVerifier(pool: owner).verify().firstBroken == nil)
        }
    }

    /// Since 0013 the per-event trigger runs as the appending role and takes the
    /// head's lock through `audit_chain_lock()`: a service role granted before that
    /// migration may still append after it (and after 0014 replaced the function),
    /// and nobody else may take the lock.
    @Test func aServiceRoleGrantedBeforeMigration13StillAppends() async throws {
        let database = try await TestDatabase.create(migrated: false)
        let owner = database.pool(size: 1)
        let service = try database.servicePool(size: 1)
        do {
            let migrations = try Migrator.load(from: TestDatabase.schemaDirectory)
            let migrator = Migrator(pool: owner, logger: TestLogger.make())
            try await migrator.migrate(migrations.filter { $0.version < 13 })
            try await migrator.grant(serviceRole: TestDatabase.serviceRole)
            try await migrator.migrate(migrations)

            let audit = AuditLog(pool: service, logger: TestLogger.make(), metrics: GatewayMetrics())
            try await audit.append(AuditEvent(requestID: "r1", caller: "c", action: .accountImport, outcome: .imported))
            try await audit.append(AuditEvent(requestID: "r2", caller: "c", action: .accountLookup, outcome: .found))
            #expect(try await AuditVerifier(pool: owner).verify().firstBroken == nil)
            let row = try await owner.query("""
                SELECT has_function_privilege('public', 'audit_chain_lock()', 'EXECUTE') AS public_may,
                       (SELECT prosecdef FROM pg_proc WHERE proname = 'audit_events_chain') AS trigger_definer,
                       (SELECT prosecdef FROM pg_proc WHERE proname = 'audit_chain_lock') AS lock_definer,
                       (SELECT l.lanname FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
                        WHERE p.proname = 'audit_chain_lock') AS lock_language,
                       (SELECT array_to_string(proconfig, ',') FROM pg_proc WHERE proname = 'audit_chain_lock') AS lock_settings
                """).rows.first
            #expect(try row?.bool("public_may") == false)
            #expect(try row?.bool("trigger_definer") == false)
            #expect(try row?.bool("lock_definer") == true)
            // Since 0014 in PL/pgSQL, whose plan is kept for the session (a SQL function
            // with a SET clause was planned again at every call), with the same fixed
            // search_path, and still only for the roles 0013 granted (checked above).
            #expect(try row?.string("lock_language") == "plpgsql")
            #expect(try row?.string("lock_settings") == "search_path=public, pg_temp")
        } catch {
            await service.close(); await owner.close(); await database.drop()
            throw error
        }
        await service.close(); await owner.close(); await database.drop()
    }

    @Test func concurrentGrantsTakeTurns() async throws {
        // Found from outside: replicas running `migrate --service-role` at once failed with
        // "tuple concurrently updated" (SQLSTATE XX000) on the REVOKE.
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 4)
        let migrator = Migrator(pool: pool, logger: TestLogger.make())
        try await migrator.grant(serviceRole: TestDatabase.serviceRole)
        for _ in 0..<5 {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 { group.addTask { try await migrator.grant(serviceRole: TestDatabase.serviceRole) } }
                try await group.waitForAll()
            }
        }
        let granted = try await pool.query(
            "SELECT has_table_privilege('gateway_service', 'audit_events', 'INSERT') AS granted")
        #expect(try granted.rows.first?.bool("granted") == true)
        await pool.close()
        await database.drop()
    }

    @Test func grantRefusesRolesThatCouldUndoIt() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        let migrator = Migrator(pool: pool, logger: TestLogger.make())
        let owner = try await pool.query("SELECT current_user AS name").rows.first!.string("name")
        for (role, reason) in [("no_such_role_\(UInt32.random(in: 0...UInt32.max))", "no such role"),
                               (owner, "the role migrate runs as"), ("postgres", "superuser")] {
            do {
                try await migrator.grant(serviceRole: role)
                Issue.record("\(role) was granted")
            } catch let failure as Migrator.Failure {
                #expect(failure.description.contains(reason), "\(failure)")
            }
        }
        // Exactly: a privilege granted by hand before is taken back by the next grant.
        _ = try await pool.query("GRANT DELETE ON accounts TO gateway_service")
        try await migrator.grant(serviceRole: TestDatabase.serviceRole)
        let extra = try await pool.query("SELECT has_table_privilege('gateway_service', 'accounts', 'DELETE') AS granted")
        #expect(try extra.rows.first?.bool("granted") == false)
        await pool.close()
        await database.drop()
    }
}
