import ArgumentParser
import Foundation
import Gateway
import Logging
import PostgresClient

struct CallerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "caller", abstract: "Manages the internal services allowed to call the gateway.",
        subcommands: [Add.self, List.self, Revoke.self])

    static func withStore<T: Sendable>(_ options: ConfigurationOptions, _ body: (CallerStore) async throws -> T) async throws -> T {
        let configuration = try options.load(requireTencent: false)
        let pool = configuration.pool("caller", size: 1, logger: Logger(label: "account-gateway.caller"))
        do {
            let result = try await body(CallerStore(pool: pool))
            await pool.close()
            return result
        } catch {
            await pool.close()
            if let failure = error as? CallerStore.Failure { throw ValidationError(failure.description) }
            throw error
        }
    }

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Creates a caller and prints its bearer token alone on the last line (shown once).")

        @OptionGroup var options: ConfigurationOptions
        @Argument(help: "The caller's name: letters, digits, '.', '_' and '-'.") var name: String
        @Option(name: .customLong("role"), help: "importer, auditor, or both comma-separated.") var roles: String

        func run() async throws {
            var parsed: Set<Caller.Role> = []
            for raw in roles.split(separator: ",") {
                let name = raw.trimmingCharacters(in: .whitespaces)
                guard let role = Caller.Role(rawValue: name) else {
                    throw ValidationError("unknown role '\(name)'; roles are importer, auditor")
                }
                parsed.insert(role)
            }
            let token = try await CallerCommand.withStore(options) { try await $0.add(name: name, roles: parsed) }
            print("caller \(name) created with roles \(parsed.sorted().map(\.rawValue).joined(separator: ",")); its token (shown once):")
            print(token)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Lists callers.")
        @OptionGroup var options: ConfigurationOptions

        func run() async throws {
            let callers = try await CallerCommand.withStore(options) { try await $0.list() }
            print("NAME\tROLES\tCREATED\tREVOKED")
            for caller in callers {
                let created = caller.createdAt.map { $0.formatted(.iso8601) } ?? "-"
                let revoked = caller.revokedAt.map { $0.formatted(.iso8601) } ?? "-"
                print("\(caller.name)\t\(caller.roles.sorted().map(\.rawValue).joined(separator: ","))\t\(created)\t\(revoked)")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revokes a caller's token at once.")
        @OptionGroup var options: ConfigurationOptions
        @Argument var name: String

        func run() async throws {
            try await CallerCommand.withStore(options) { try await $0.revoke(name: name) }
            print("caller \(name) revoked")
        }
    }
}
