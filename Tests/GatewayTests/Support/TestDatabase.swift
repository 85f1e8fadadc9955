import Foundation
import Logging
import PostgresClient
@testable import Gateway

/// A database of its own for one test, created from `DATABASE_URL` (the real
/// server `make test` starts) and dropped afterwards.
struct TestDatabase: Sendable {
    let name: String
    let url: String
    let adminURL: String

    static func baseURL() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
            throw TestSetupError("DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL")
        }
        return url
    }

    /// Replaces the database name of a `postgresql://…/name` URL.
    static func url(_ base: String, database: String) throws -> String {
        guard var components = URLComponents(string: base), components.scheme?.hasPrefix("postgres") == true else {
            throw TestSetupError("DATABASE_URL must be a postgresql:// URI for the tests")
        }
        components.path = "/" + database
        return components.string!
    }

    static func create(migrated: Bool = true) async throws -> TestDatabase {
        let base = try baseURL()
        let name = "agw_t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(16)
        let database = TestDatabase(name: name, url: try url(base, database: name), adminURL: base)
        try await database.admin { _ = try $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)")) }
        if migrated {
            let pool = database.pool(size: 1)
            try await Migrator(pool: pool, logger: TestLogger.make()).migrate(try Migrator.load(from: schemaDirectory))
            await pool.close()
        }
        return database
    }

    static var schemaDirectory: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("schema/sql")
    }

    func pool(size: Int = 4) -> PostgresPool {
        PostgresPool(configuration: PostgresConfiguration(connectionString: url, applicationName: "account-gateway tests"),
                     size: size, logger: TestLogger.make("test.pool"))
    }

    /// The role `scripts/localpg.sh start` creates for the service: it owns nothing.
    static let serviceRole = "gateway_service"

    /// Grants `serviceRole` what the service needs here, as `migrate --service-role` does.
    func grantServiceRole() async throws {
        let pool = pool(size: 1)
        defer { Task { await pool.close() } }
        do {
            try await Migrator(pool: pool, logger: TestLogger.make()).grant(serviceRole: Self.serviceRole)
        } catch let failure as Migrator.Failure where failure.description.contains("no such role") {
            throw TestSetupError("role \(Self.serviceRole) is missing: `scripts/localpg.sh start` (make test) creates it")
        }
    }

    /// Connections as `serviceRole`, as `serve` makes them in production.
    func servicePool(size: Int = 4) throws -> PostgresPool {
        guard var components = URLComponents(string: url) else { throw TestSetupError("DATABASE_URL is not a URI") }
        components.user = Self.serviceRole
        components.password = nil
        return PostgresPool(configuration: PostgresConfiguration(connectionString: components.string!, applicationName: "account-gateway tests (service)"),
                            size: size, logger: TestLogger.make("test.pool"))
    }

    func drop() async {
        _ = try? await admin { _ = try $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")) }
    }

    private func admin(_ body: @escaping @Sendable (PostgresConnection) throws -> Void) async throws {
        let pool = PostgresPool(configuration: PostgresConfiguration(connectionString: adminURL), size: 1, logger: TestLogger.make("test.admin"))
        defer { Task { await pool.close() } }
        try await pool.withConnection(body)
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
