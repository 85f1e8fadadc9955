import ArgumentParser
import Foundation
import Gateway
import Logging
import PostgresClient

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Applies schema/sql migrations in order, idempotently, under an advisory lock.",
        discussion: """
            Run it as the role that owns the schema. With --service-role NAME it then grants the existing role NAME exactly
            what serve, import and reconcile need (docs/OPERATIONS.md, Roles): serve then connects as NAME, which owns nothing
            and cannot change the schema, its functions and triggers, or the audit trail.
            """)

    @OptionGroup var options: ConfigurationOptions

    @Option(name: .customLong("dir"), help: "The migrations directory (default: schema/sql, found from here or the executable).")
    var directory: String?

    @Option(name: .customLong("service-role"), help: "An existing role to grant exactly what the service needs.")
    var serviceRole: String?

    func run() async throws {
        let configuration = try options.load(requireTencent: false)
        let logger = Logger(label: "account-gateway.migrate")
        guard let url = directory.map({ URL(fileURLWithPath: $0) }) ?? Migrator.defaultDirectory() else {
            throw ValidationError("schema/sql not found; pass --dir")
        }
        let migrations = try Migrator.load(from: url)
        let pool = configuration.pool("migrate", size: 1, logger: logger)
        defer { Task { await pool.close() } }
        let migrator = Migrator(pool: pool, logger: logger)
        let applied = try await migrator.migrate(migrations)
        print(applied.isEmpty
              ? "schema is current (version \(migrations.count))"
              : "applied \(applied.map(String.init).joined(separator: ", ")); schema version \(migrations.count)")
        if let serviceRole {
            try await migrator.grant(serviceRole: serviceRole)
            print("granted \(serviceRole) what serve, import and reconcile need, and nothing more")
        }
    }
}
