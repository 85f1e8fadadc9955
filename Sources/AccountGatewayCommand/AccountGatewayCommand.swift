import ArgumentParser
import Foundation
import Gateway
import PostgresClient

@main
struct AccountGatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account-gateway",
        abstract: "Registers app users with Tencent Cloud Chat under a central rate limit.",
        discussion: "Every command reads its configuration from the environment (see README.md).",
        version: GatewayVersion.current,
        subcommands: [
            ServeCommand.self, MigrateCommand.self, SandboxCommand.self, CallerCommand.self, UserSigCommand.self,
            AuditCommand.self, ImportCommand.self, ReconcileCommand.self,
        ]
    )

    /// ArgumentParser's, except that a PostgreSQL error also says what the
    /// server said: its `description` is generic, since it may reach HTTP
    /// answers, and "PostgreSQL server error, SQLSTATE 42501" alone does not tell
    /// an operator which privilege or object is wrong.
    static func main() async {
        do {
            var command = try parseAsRoot()
            if var command = command as? any AsyncParsableCommand {
                try await command.run()
            } else {
                try command.run()
            }
        } catch let error as PostgresError {
            FileHandle.standardError.write(Data("Error: \(error.operatorDescription)\n".utf8))
            exit(withError: ExitCode.failure)
        } catch {
            exit(withError: error)
        }
    }
}
