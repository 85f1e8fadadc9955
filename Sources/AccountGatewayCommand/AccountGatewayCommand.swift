import ArgumentParser
import Foundation
import Gateway

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
}
