import ArgumentParser
import Foundation
import Gateway
import Logging
import PostgresClient

/// Options shared by commands that read the gateway configuration; flags override the environment.
struct ConfigurationOptions: ParsableArguments {
    @Option(name: .customLong("database-url"), help: "Overrides DATABASE_URL; without a password (command lines are visible to every local user): give it in DATABASE_URL_FILE, DATABASE_URL or ~/.pgpass.")
    var databaseURL: String?

    @Option(name: .customLong("log-level"), help: "Overrides LOG_LEVEL.")
    var logLevel: String?

    func environment() -> [String: String] {
        var env = ProcessInfo.processInfo.environment
        if let databaseURL { env["DATABASE_URL"] = databaseURL }
        if let logLevel { env["LOG_LEVEL"] = logLevel }
        return env
    }

    func load(requireTencent: Bool, requireDatabase: Bool = true, overrides: [String: String] = [:]) throws -> GatewayConfiguration {
        if let databaseURL, PostgresConfiguration.password(in: databaseURL) != nil {
            throw ValidationError("--database-url must not carry a password: every local user can read a command line. "
                                  + "Put the URL in DATABASE_URL_FILE (mode 600) or DATABASE_URL, or the password in ~/.pgpass.")
        }
        var env = environment()
        if databaseURL != nil { env["DATABASE_URL_FILE"] = nil }
        env.merge(overrides) { _, new in new }
        do {
            let configuration = try GatewayConfiguration(
                environment: env, requireTencent: requireTencent, requireDatabase: requireDatabase)
            LogSetup.bootstrapJSON(level: configuration.logLevel)
            return configuration
        } catch {
            throw ValidationError(error.description)
        }
    }
}

enum LogSetup {
    /// JSON lines on stderr, once per process.
    static func bootstrapJSON(level: Logger.Level) {
        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
