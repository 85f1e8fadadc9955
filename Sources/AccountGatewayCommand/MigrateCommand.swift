import ArgumentParser
import Foundation
import Gateway
import Logging
import PostgresClient

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Applies schema/sql migrations in order, idempotently, under an advisory lock.")

    @OptionGroup var options: ConfigurationOptions

    @Option(name: .customLong("dir"), help: "The migrations directory (default: schema/sql, found from here or the executable).")
    var directory: String?

    func run() async throws {
        let configuration = try options.load(requireTencent: false)
        let logger = Logger(label: "account-gateway.migrate")
        guard let url = directory.map({ URL(fileURLWithPath: $0) }) ?? Migrator.defaultDirectory() else {
            throw ValidationError("schema/sql not found; pass --dir")
        }
        let migrations = try Migrator.load(from: url)
        let pool = configuration.pool("migrate", size: 1, logger: logger)
        defer { Task { await pool.close() } }
        let applied = try await Migrator(pool: pool, logger: logger).migrate(migrations)
        print(applied.isEmpty
              ? "schema is current (version \(migrations.count))"
              : "applied \(applied.map(String.init).joined(separator: ", ")); schema version \(migrations.count)")
    }
}
