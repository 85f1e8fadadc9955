import Foundation
import Logging
import PostgresClient

/// Writes audit events. The database assigns id, time and hash (a trigger
/// chains each event to the previous one), so writers cannot forge the chain.
struct AuditLog: Sendable {
    let pool: PostgresPool
    let logger: Logger
    let metrics: GatewayMetrics

    /// Appends inside the caller's transaction. Call it last in the
    /// transaction: it takes the chain's lock until commit.
    func append(_ event: AuditEvent, on connection: PostgresConnection) throws {
        _ = try connection.query(Self.insert(event))
    }

    /// The INSERT of one event; id, at, prev_hash and hash are the trigger's.
    static func insert(_ event: AuditEvent) -> PostgresQuery {
        """
            INSERT INTO audit_events (request_id, caller, action, user_id, chat_user_id, outcome, http_status,
                tencent_error_code, tencent_error_info, attempt, latency_ms, idempotency_key, prev_hash, hash, at, id)
            VALUES (\(event.requestID), \(event.caller), \(event.action.rawValue), \(event.userID), \(event.chatUserID),
                \(event.outcome), \(event.httpStatus), \(event.tencentErrorCode), \(event.tencentErrorInfo),
                \(event.attempt), \(event.latencyMilliseconds), \(event.idempotencyKey), '', '', now(), 0)
            """
    }

    /// Appends in a transaction of its own.
    func append(_ event: AuditEvent) async throws {
        try await pool.withConnection { connection in try self.append(event, on: connection) }
        metrics.auditEvent(action: event.action.rawValue)
    }

    /// Appends, logging instead of throwing: for events whose request has
    /// already been answered or failed for another reason.
    func appendOrLog(_ event: AuditEvent) async {
        do {
            try await append(event)
        } catch {
            logger.error("could not write audit event", metadata: [
                "audit.action": "\(event.action.rawValue)", "request_id": "\(event.requestID ?? "")", "error": "\(error)",
            ])
        }
    }
}
