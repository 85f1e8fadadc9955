import Foundation
import Logging
import PostgresClient

/// Applies `schema/sql/NNNN_name.sql` in order, each in a transaction of its
/// own, under an advisory lock so concurrent replicas migrate once.
public struct Migrator: Sendable {
    /// The schema version this build expects; `/readyz` compares against it.
    /// A test keeps it equal to the newest file in schema/sql.
    public static let expectedVersion = 14

    public struct Migration: Sendable, Equatable {
        public var version: Int
        public var name: String
        public var sql: String
        var checksum: String { Digest.sha256Hex(sql) }
    }

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    /// A fixed key for pg_advisory_lock: "account-gateway migrate".
    static let lockKey: Int64 = 0x6167_775F_6D69_6772

    let pool: PostgresPool
    let logger: Logger

    public init(pool: PostgresPool, logger: Logger) {
        self.pool = pool
        self.logger = logger
    }

    /// Reads the migrations in `directory`, sorted by version; names must be `NNNN_name.sql`.
    public static func load(from directory: URL) throws -> [Migration] {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        } catch {
            throw Failure(description: "cannot read migrations directory \(directory.path)")
        }
        var migrations: [Migration] = []
        for file in files.sorted() where file.hasSuffix(".sql") {
            let stem = file.dropLast(4)
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]), version > 0 else {
                throw Failure(description: "migration file \(file) is not named NNNN_name.sql")
            }
            let sql = try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: sql))
        }
        for (index, migration) in migrations.enumerated() where migration.version != index + 1 {
            throw Failure(description: "migration versions must be 1, 2, 3… without gaps; found \(migration.version) at position \(index + 1)")
        }
        return migrations
    }

    /// Finds `schema/sql` next to the working directory or above the executable.
    public static func defaultDirectory() -> URL? {
        var candidates = [URL(fileURLWithPath: FileManager.default.currentDirectoryPath)]
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(dir)
            dir = dir.deletingLastPathComponent()
        }
        return candidates.map { $0.appendingPathComponent("schema/sql") }
            .first { FileManager.default.fileExists(atPath: $0.path) }
    }

    /// Applies what is missing; returns the versions applied now.
    @discardableResult
    public func migrate(_ migrations: [Migration]) async throws -> [Int] {
        let logger = self.logger
        return try await pool.withConnection { connection in
            _ = try connection.query("SELECT pg_advisory_lock(\(Self.lockKey))")
            defer { _ = try? connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))") }
            _ = try connection.query("""
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """)
            var applied: [Int: String] = [:]
            for row in try connection.query("SELECT version, checksum FROM schema_migrations").rows {
                applied[try row.int("version")] = try row.string("checksum")
            }
            var done: [Int] = []
            for migration in migrations {
                if let checksum = applied[migration.version] {
                    guard checksum == migration.checksum else {
                        throw Failure(description: "migration \(migration.version)_\(migration.name) was changed after it was applied")
                    }
                    continue
                }
                logger.info("applying migration", metadata: ["migration.version": "\(migration.version)", "migration.name": "\(migration.name)"])
                _ = try connection.query("BEGIN")
                do {
                    try connection.executeScript(migration.sql)
                    _ = try connection.query("""
                        INSERT INTO schema_migrations (version, name, checksum)
                        VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                        """)
                    _ = try connection.query("COMMIT")
                } catch {
                    _ = try? connection.query("ROLLBACK")
                    throw error
                }
                done.append(migration.version)
            }
            return done
        }
    }

    /// The newest applied version, or 0 on an empty database.
    public static func currentVersion(on connection: PostgresConnection) throws -> Int {
        let exists = try connection.query("SELECT to_regclass('schema_migrations') IS NOT NULL AS present")
        guard try exists.rows.first?.bool("present") == true else { return 0 }
        return try connection.query("SELECT coalesce(max(version), 0) AS version FROM schema_migrations").rows.first?.int("version") ?? 0
    }
}
