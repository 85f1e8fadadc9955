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
