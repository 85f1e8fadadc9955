import Foundation
import PostgresClient

/// The `callers` table.
public struct CallerStore: Sendable {
    let pool: PostgresPool
    let cache: ExpiringCache<Caller>?
    /// Digests of tokens that matched no active caller. A token cannot become
    /// valid later (`add` makes a new random one), so remembering a refusal
    /// hides nothing; it only spares the database a flood of the same bad token.
    let refusals = ExpiringCache<Bool>(lifetime: .seconds(60))

    /// `cacheFor`: how long a successful authentication is remembered (it saves
    /// a query per request; a revocation takes effect within that time).
    public init(pool: PostgresPool, cacheFor: Duration? = nil) {
        self.pool = pool
        self.cache = cacheFor.map { ExpiringCache(lifetime: $0) }
    }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case invalidName(String)
        case noRoles
        case alreadyExists(String)
        case notFound(String)

        public var description: String {
            switch self {
            case .invalidName(let name):
                "invalid caller name '\(name)': 1-64 characters of letters, digits, '.', '_' and '-', starting with a letter or digit"
            case .noRoles: "at least one role is required (importer, auditor)"
            case .alreadyExists(let name): "caller '\(name)' already exists"
            case .notFound(let name): "no active caller named '\(name)'"
            }
        }
    }

    /// Creates a caller and returns its token, which is not stored anywhere.
    public func add(name: String, roles: Set<Caller.Role>) async throws -> String {
        guard Caller.isValidName(name) else { throw Failure.invalidName(name) }
        guard !roles.isEmpty else { throw Failure.noRoles }
        let token = BearerToken.generate()
        let digest = BearerToken.digest(token)
        let roleList = "{" + roles.sorted().map(\.rawValue).joined(separator: ",") + "}"
        do {
            _ = try await pool.query("""
                INSERT INTO callers (name, token_sha256, roles) VALUES (\(name), \(digest), \(roleList)::text[])
                """)
        } catch let error as PostgresError where error.isUniqueViolation {
            throw Failure.alreadyExists(name)
        }
        return token
    }

    public func list() async throws -> [Caller] {
        let result = try await pool.query(
            "SELECT name, array_to_string(roles, ',') AS roles, created_at, revoked_at FROM callers ORDER BY name")
        return try result.rows.map { row in
            Caller(
                name: try row.string("name"),
                roles: Set(try row.string("roles").split(separator: ",").compactMap { Caller.Role(rawValue: String($0)) }),
                createdAt: try row.date("created_at"),
                revokedAt: try row.optionalDate("revoked_at"))
        }
    }

    public func revoke(name: String) async throws {
        let result = try await pool.query(
            "UPDATE callers SET revoked_at = now() WHERE name = \(name) AND revoked_at IS NULL")
        if result.affectedRows == 0 { throw Failure.notFound(name) }
    }

    /// The active caller holding this token, if any.
    func authenticate(token: String) async throws -> Caller? {
        // A token `add` cannot have made is refused without a query.
        guard BearerToken.isWellFormed(token) else { return nil }
        let digest = BearerToken.digest(token)
        if let cached = cache?.lookup(digest) { return cached }
        if refusals.lookup(digest) != nil { return nil }
        let result = try await pool.query("""
            SELECT name, array_to_string(roles, ',') AS roles FROM callers
            WHERE token_sha256 = \(digest) AND revoked_at IS NULL
            """)
        let caller = try result.rows.first.map { row in
            Caller(name: try row.string("name"),
                   roles: Set(try row.string("roles").split(separator: ",").compactMap { Caller.Role(rawValue: String($0)) }))
        }
        if let caller { cache?.store(caller, for: digest) } else { refusals.store(true, for: digest) }
        return caller
    }
}
