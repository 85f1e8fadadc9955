import ArgumentParser
import Foundation
import Gateway
import Logging
import PostgresClient

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Works with the audit trail.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Verifies the audit trail's hash chain; exit 0 when intact, 1 naming the first broken event.")

        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            let configuration = try options.load(requireTencent: false)
            let pool = configuration.pool("audit", size: 2, logger: Logger(label: "account-gateway.audit"))
            let report: AuditVerifier.Report
            do {
                report = try await AuditVerifier(pool: pool).verify()
                await pool.close()
            } catch {
                await pool.close()
                throw error
            }
            if let broken = report.firstBroken {
                print("audit trail BROKEN at event \(broken.id): \(broken.reason) (\(report.checked) events before it are intact)")
                throw ExitCode(1)
            }
            print("audit trail intact: \(report.checked) events")
        }
    }
}
