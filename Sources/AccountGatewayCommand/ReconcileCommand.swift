import ArgumentParser
import Foundation
import Gateway
import Logging
import PostgresClient
import TencentChat

struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compares accounts with Tencent (account_check) and re-queues what drifted; prints a summary.",
        discussion: "Re-queued accounts are imported again by the workers of the running replicas.")

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        let configuration = try options.load(requireTencent: true)
        let logger = Logger(label: "account-gateway.reconcile")
        let client = try configuration.tencentClient(logger: logger)
        let pool = configuration.pool("reconcile", size: 2, statementTimeout: .seconds(30), logger: logger)
        do {
            let summary = try await Reconciler(pool: pool, upstream: TencentUpstream(client: client), logger: logger).run { progress in
                FileHandle.standardError.write(Data("reconcile: \(progress)\n".utf8))
            }
            await pool.close()
            print(summary)
            if summary.unchecked > 0 { throw ExitCode(1) }
        } catch {
            await pool.close()
            throw error
        }
    }
}
