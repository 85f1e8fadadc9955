import Foundation
import Logging
import Testing

@testable import PostgresClient

/// Keeps every log line (message and all metadata) as text.
struct CapturingLogHandler: LogHandler {
    let lines: Locked<[String]>
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
    }
}

extension DatabaseTests {
    @Suite struct LoggingTests {
        @Test func bindValuesNeverReachTheLogs() async throws {
            let lines = Locked<[String]>([])
            let logger = Logger(label: "capture") { _ in CapturingLogHandler(lines: lines) }
            let pool = PostgresPool(
                configuration: try TestDatabase.configuration(), size: 1, logger: logger)
            let secret = TestDatabase.uniqueName("s3cret")

            try await pool.withConnection { connection in
                try connection.executeScript("CREATE TEMP TABLE secrets (v text UNIQUE)")
                _ = try connection.query("INSERT INTO secrets VALUES (\(secret))")
                // The server quotes the value in these errors' message or detail.
                _ = try? connection.query("INSERT INTO secrets VALUES (\(secret))")
                _ = try? connection.query("SELECT \(secret)::int")
                _ = try connection.query("BEGIN")
                _ = try connection.query("INSERT INTO secrets VALUES (\(secret + "-left-open"))")
            }
            _ = try? await pool.query(
                "SELECT pg_terminate_backend(pg_backend_pid()), \(secret)::text")
            _ = try await pool.query("SELECT \(secret)::text AS fine")
            await pool.close()

            let logged = lines.withLock { $0 }
            #expect(logged.contains { $0.contains("23505") })  // failures are logged, by SQLSTATE
            #expect(logged.contains { $0.contains("22P02") })
            #expect(logged.contains { $0.contains("discarding a broken PostgreSQL connection") })
            #expect(logged.contains { $0.contains("rolling it back") })
            #expect(!logged.contains { $0.contains(secret) }, "a bound value was logged")
        }

        @Test func serverNoticesGoToTheLoggerNotStderr() throws {
            let lines = Locked<[String]>([])
            let logger = Logger(label: "capture") { _ in CapturingLogHandler(lines: lines) }
            let connection = try PostgresConnection(
                configuration: TestDatabase.configuration(), logger: logger)
            try connection.executeScript("DO $$ BEGIN RAISE WARNING 'mind the gap'; END $$")
            try connection.executeScript("DROP TABLE IF EXISTS no_such_table_here")
            let logged = lines.withLock { $0 }
            #expect(logged.contains { $0.hasPrefix("warning") && $0.contains("mind the gap") })
            #expect(logged.contains { $0.hasPrefix("debug") && $0.contains("no_such_table_here") })
        }
    }
}
