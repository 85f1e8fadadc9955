import Foundation
import PostgresClient

/// Walks the audit trail from the first event and recomputes its hash chain
/// (`account-gateway audit verify`): a changed, removed or inserted event
/// breaks it at that event.
public struct AuditVerifier: Sendable {
    let pool: PostgresPool
    /// Events read per query.
    let pageSize: Int

    public init(pool: PostgresPool, pageSize: Int = 5000) {
        self.pool = pool
        self.pageSize = pageSize
    }

    public struct Report: Sendable, Equatable {
        public var checked: Int
        /// The first event that breaks the chain, and why; nil when intact.
        public var firstBroken: (id: Int64, reason: String)?

        public static func == (a: Report, b: Report) -> Bool {
            a.checked == b.checked && a.firstBroken?.id == b.firstBroken?.id && a.firstBroken?.reason == b.firstBroken?.reason
        }
    }

    static let genesis = String(repeating: "0", count: 64)

    public func verify() async throws -> Report {
        // The head first: events written while this runs come after it and are left for the next run.
        guard let head = try await pool.query("SELECT last_id, last_hash FROM audit_chain").rows.first else {
            return Report(checked: 0, firstBroken: (1, "the chain head is missing"))
        }
        let lastID = try head.int64("last_id")
        var previousHash = Self.genesis
        var expectedID: Int64 = 1
        var checked = 0
        while expectedID <= lastID {
            let after = expectedID - 1
            let rows = try await pool.query("""
                SELECT id, (extract(epoch FROM at) * 1000000)::bigint AS at_us, request_id, caller, action, user_id,
                       chat_user_id, outcome, http_status, tencent_error_code, tencent_error_info, attempt, latency_ms,
                       idempotency_key, prev_hash, hash
                FROM audit_events WHERE id > \(after) AND id <= \(lastID) ORDER BY id LIMIT \(pageSize)
                """).rows
            for row in rows {
                let id = try row.int64("id")
                guard id == expectedID else {
                    return Report(checked: checked, firstBroken: (expectedID, "event \(expectedID) is missing (next is \(id))"))
                }
                guard let action = AuditEvent.Action(rawValue: try row.string("action")) else {
                    return Report(checked: checked, firstBroken: (id, "unknown action"))
                }
                let event = AuditEvent(
                    requestID: try row.optionalString("request_id"), caller: try row.optionalString("caller"), action: action,
                    userID: try row.optionalString("user_id"), chatUserID: try row.optionalString("chat_user_id"),
                    outcome: try row.string("outcome"), httpStatus: try row.optionalInt("http_status"),
                    tencentErrorCode: try row.optionalInt("tencent_error_code"),
                    tencentErrorInfo: try row.optionalString("tencent_error_info"), attempt: try row.optionalInt("attempt"),
                    latencyMilliseconds: try row.optionalInt("latency_ms"), idempotencyKey: try row.optionalString("idempotency_key"))
                guard try row.string("prev_hash") == previousHash else {
                    return Report(checked: checked, firstBroken: (id, "prev_hash does not match the hash of event \(id - 1)"))
                }
                let canonical = event.canonical(previousHash: previousHash, id: id, atMicroseconds: try row.int64("at_us"))
                let hash = Digest.sha256Hex(canonical)
                guard try row.string("hash") == hash else {
                    return Report(checked: checked, firstBroken: (id, "its content does not match its hash (changed after it was written)"))
                }
                previousHash = hash
                expectedID += 1
                checked += 1
            }
            if rows.count < pageSize { break }
        }
        // The chain's head remembers the last event: events removed from the end show here.
        if lastID != expectedID - 1 {
            return Report(checked: checked, firstBroken: (expectedID, "events \(expectedID)…\(lastID) are missing from the end"))
        }
        if try head.string("last_hash") != previousHash {
            return Report(checked: checked, firstBroken: (lastID, "the chain head does not match the last event"))
        }
        return Report(checked: checked, firstBroken: nil)
    }
}
