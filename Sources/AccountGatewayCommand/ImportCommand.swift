import ArgumentParser
import Foundation
import Gateway
import Logging
import PostgresClient
import TencentChat

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bulk-imports a CSV (header user_id,nick,face_url) or NDJSON file; exit 0 when every row ended imported.",
        discussion: """
            Uses the same configuration as serve and shares the central rate limits with the running replicas.
            Resumable: run it again after an interruption; rows already imported as asked are not sent again.
            Progress and row errors go to stderr.
            """)

    @OptionGroup var options: ConfigurationOptions
    @Argument(help: "The file to import.") var file: String
    @Option(name: .customLong("batch-size"), help: "Rows committed per transaction (1–1000).") var batchSize: Int = 1000
    @Option(name: .customLong("drain-timeout"), help: "Seconds to follow pending rows before giving up.") var drainTimeout: Int = 3600

    func run() async throws {
        let configuration = try options.load(requireTencent: true)
        let logger = Logger(label: "account-gateway.import")
        guard FileManager.default.isReadableFile(atPath: file) else { throw ValidationError("cannot read \(file)") }
        let client = try configuration.tencentClient(logger: logger)
        let pool = configuration.pool("import", size: 4, statementTimeout: .seconds(30), logger: logger)
        let limiterPool = configuration.pool("import limiter", size: 1, statementTimeout: .seconds(5), logger: logger)
        let app = GatewayApplication(configuration: configuration, pool: pool, upstream: TencentUpstream(client: client),
                                     logger: logger, limiterPool: limiterPool,
                                     replicaID: "import:" + GatewayApplication.defaultReplicaID())
        let progress: BulkImporter.Progress
        do {
            progress = try await BulkImporter(app: app, batchSize: batchSize).run(
                URL(fileURLWithPath: file), drainTimeout: .seconds(drainTimeout)
            ) { rowError, progress in
                let line = rowError.map { "import: line \($0.line): \($0.message)\n" } ?? "import: \(progress)\n"
                FileHandle.standardError.write(Data(line.utf8))
            }
        } catch {
            await app.drain(timeout: .seconds(5))
            await pool.close()
            await limiterPool.close()
            throw error
        }
        await app.drain(timeout: .seconds(10))
        await pool.close()
        await limiterPool.close()
        print("import: \(progress)")
        if !progress.isComplete { throw ExitCode(1) }
    }
}
