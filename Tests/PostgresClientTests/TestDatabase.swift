import Foundation
import Logging
import Testing

@testable import PostgresClient

/// The tests run against a real PostgreSQL named by DATABASE_URL. Without it they fail (never
/// skip), so a green run always means the client was exercised against a server.
struct MissingDatabaseURL: Error, CustomStringConvertible {
    var description: String {
        "DATABASE_URL is not set: the PostgresClient tests need a real PostgreSQL. "
            + "Run `scripts/localpg.sh start`, then "
            + "`DATABASE_URL=$(scripts/localpg.sh url) swift test`."
    }
}

enum TestDatabase {
    static func url() throws -> String {
        guard let url = ProcessInfo.processInfo.environment["DATABASE_URL"], !url.isEmpty else {
            throw MissingDatabaseURL()
        }
        return url
    }

    static func configuration(
        applicationName: String? = nil, statementTimeout: Duration? = nil
    ) throws
        -> PostgresConfiguration
    {
        PostgresConfiguration(
            connectionString: try url(), applicationName: applicationName,
            statementTimeout: statementTimeout)
    }

    static func connect(
        applicationName: String? = nil, statementTimeout: Duration? = nil
    ) throws -> PostgresConnection {
        try PostgresConnection(
            configuration: configuration(
                applicationName: applicationName, statementTimeout: statementTimeout),
            logger: logger)
    }

    static func pool(
        size: Int = 4, acquireTimeout: Duration = .seconds(5), applicationName: String? = nil
    ) throws
        -> PostgresPool
    {
        PostgresPool(
            configuration: try configuration(applicationName: applicationName), size: size,
            acquireTimeout: acquireTimeout, logger: logger)
    }

    /// Quiet: the tests provoke warnings (timeouts, refused connections) on purpose.
    static let logger: Logger = {
        var logger = Logger(label: "PostgresClientTests")
        logger.logLevel = .error
        return logger
    }()

    /// A name no other test or concurrent run uses, e.g. for a table: `prefix_1f2e3d4c5b6a`.
    static func uniqueName(_ prefix: String) -> String {
        prefix + "_" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
    }

    /// A port on 127.0.0.1 where nothing listens.
    static let closedPortURL = "postgresql://gateway@127.0.0.1:1/account_gateway"
}

/// Polls `condition` (for state another task changes) until it holds, or fails after `timeout`.
func waitUntil(
    timeout: Duration = .seconds(5), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now > deadline {
            Issue.record("condition not met within \(timeout)", sourceLocation: sourceLocation)
            return
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// The database tests share one server and some measure time: they run one at a time.
@Suite(.serialized) struct DatabaseTests {}
