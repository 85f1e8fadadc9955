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
            abstract: "Verifies the audit trail's hash chain; exit 0 when intact, 1 naming the first broken event, 2 when it could not check.",
            discussion: "The result is stored in audit_verifications; every replica exposes the latest as gateway_audit_verify_* metrics. Run it daily (deploy/).")

        @OptionGroup var options: ConfigurationOptions

        @Flag(name: .customLong("no-record"), help: "Do not store the result in audit_verifications (where replicas expose it as metrics).")
        var noRecord = false

        func run() async throws {
            let configuration = try options.load(requireTencent: false)
            let pool = configuration.pool("audit", size: 2, logger: Logger(label: "account-gateway.audit"))
            let report: AuditVerifier.Report
            do {
                let verifier = AuditVerifier(pool: pool)
                report = try await verifier.verify()
                if !noRecord {
                    // For gateway_audit_verify_* and the alerts on them; a failure to record is said, not fatal.
                    do { try await verifier.record(report) } catch {
                        FileHandle.standardError.write(Data("warning: the result could not be recorded in audit_verifications: \(error)\n".utf8))
                    }
                }
                await pool.close()
            } catch {
                // Not a verdict on the trail: a cron job or an auditor must be able to tell the two apart.
                await pool.close()
                let reason = (error as? PostgresError)?.operatorDescription ?? "\(error)"
                FileHandle.standardError.write(Data("audit verify: could not check the trail: \(reason)\n".utf8))
                throw ExitCode(2)
            }
            if let broken = report.firstBroken {
                print("audit trail BROKEN at event \(broken.id): \(broken.reason) (\(report.checked) events before it are intact)")
                throw ExitCode(1)
            }
            print("audit trail intact: \(report.checked) events")
        }
    }
}
