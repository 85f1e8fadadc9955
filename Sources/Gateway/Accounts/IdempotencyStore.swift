import Foundation
import PostgresClient

/// `Idempotency-Key` for POST /accounts, scoped to the caller: the same key
/// and request replay the stored answer, a different request gets 422, a
/// request while the first is still running gets 409.
struct IdempotencyStore: Sendable {
    let pool: PostgresPool
    /// How long a request may hold a key before a retry may take it over
    /// (its process presumably died); longer than any request takes.
    static let holdSeconds = 60
    /// Keys are kept this long, then forgotten.
    static let retentionHours = 24

    enum Begin: Sendable, Equatable {
        case proceed
        case replay(status: Int, body: String)
        case inFlight
        case mismatch
    }

    /// Key syntax: 1–255 visible ASCII characters.
    static func isValid(_ key: String) -> Bool {
        (1...255).contains(key.utf8.count) && key.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    /// What makes two requests "the same": the validated fields, not their JSON spelling.
    static func fingerprint(_ input: AccountInput) -> String {
        let text = ["POST /accounts", input.userID, input.nick, input.faceURL].map(Digest.lengthPrefixed).joined(separator: "|")
        return Digest.sha256Hex(text)
    }

    func begin(caller: String, key: String, fingerprint: String) async throws -> Begin {
        try await pool.withTransaction { connection in
            let claimed = try connection.query("""
                INSERT INTO idempotency_keys AS k (caller, key, request_sha256, state, locked_until)
                VALUES (\(caller), \(key), \(fingerprint), 'in_flight', now() + \(Self.holdSeconds)::integer * interval '1 second')
                ON CONFLICT (caller, key) DO UPDATE SET state = 'in_flight', locked_until = EXCLUDED.locked_until
                WHERE k.request_sha256 = EXCLUDED.request_sha256
                    AND (k.state = 'open' OR (k.state = 'in_flight' AND k.locked_until < now()))
                RETURNING k.key
                """)
            if !claimed.rows.isEmpty { return .proceed }
            let existing = try connection.query("""
                SELECT request_sha256, state, response_status, response_body FROM idempotency_keys
                WHERE caller = \(caller) AND key = \(key)
                """)
            guard let row = existing.rows.first else { return .inFlight }  // deleted meanwhile: let the caller retry
            if try row.string("request_sha256") != fingerprint { return .mismatch }
            if try row.string("state") == "done" {
                return .replay(status: try row.int("response_status"), body: try row.string("response_body"))
            }
            return .inFlight
        }
    }

    /// Stores a final answer, or reopens the key after a non-final one.
    func finish(caller: String, key: String, status: Int, body: [UInt8]) async throws {
        let final = [200, 201, 422].contains(status)
        let text = String(decoding: body, as: UTF8.self)
        _ = try await pool.query("""
            UPDATE idempotency_keys SET state = \(final ? "done" : "open"), locked_until = NULL,
                response_status = \(final ? status : nil), response_body = \(final ? text : nil)
            WHERE caller = \(caller) AND key = \(key)
            """)
    }

    /// Forgets keys past their retention; returns how many.
    func purgeExpired(limit: Int = 1000) async throws -> Int {
        try await pool.query("""
            DELETE FROM idempotency_keys WHERE ctid IN (
                SELECT ctid FROM idempotency_keys
                WHERE created_at < now() - \(Self.retentionHours)::integer * interval '1 hour' LIMIT \(limit))
            """).affectedRows
    }
}
