import Foundation
import Logging
import PostgresClient

/// Writes audit events. The database assigns id, time and hash (a trigger
/// chains each event to the previous one under a lock), so writers cannot
/// forge the chain. Events that arrive while a write is under way go out
/// together in the next multi-row INSERT: the chain's lock and the commit's
/// flush are paid once per batch, not once per event (group commit).
final class AuditLog: Sendable {
    let pool: PostgresPool
    let logger: Logger
    let metrics: GatewayMetrics
    /// Events per INSERT at most.
    let maxBatch: Int
    private let writes: GroupCommit<AuditEvent, Void>

    init(pool: PostgresPool, logger: Logger, metrics: GatewayMetrics, maxBatch: Int = 200) {
        self.pool = pool
        self.logger = logger
        self.metrics = metrics
        self.maxBatch = maxBatch
        writes = GroupCommit("audit batch", logger: logger, nextBatch: { min($0.count, maxBatch) }) { events in
            _ = try await pool.query(Self.insert(events))
            return events.map { _ in () }
        }
    }

    /// An event written only if the same statement's `outcome` rows (the record
    /// of an upstream call) show its account with this status: a request's event
    /// that describes the outcome recorded with it.
    struct OutcomeCondition: Encodable, Sendable {
        /// The event's 1-based position in the INSERT.
        var position: Int
        var userID: String
        var status: String

        enum CodingKeys: String, CodingKey { case position, userID = "user_id", status }
    }

    /// The INSERT of events, in order; id, at, prev_hash and hash are the trigger's.
    /// One statement text for any number of events (they travel as one JSON
    /// parameter), so the connection prepares it once.
    /// `conditions`: events written only if their `OutcomeCondition` holds
    /// (only inside a statement that has an `outcome` CTE).
    static func insert(_ events: [AuditEvent], conditions: [OutcomeCondition] = []) -> PostgresQuery {
        let keep: PostgresQuery = conditions.isEmpty ? "true" : """
            NOT EXISTS (SELECT 1 FROM jsonb_to_recordset(\(JSON.text(conditions))::jsonb) AS c(position bigint, user_id text, status text)
                WHERE c.position = e.position
                    AND NOT EXISTS (SELECT 1 FROM outcome o WHERE o.user_id = c.user_id AND o.status = c.status))
            """
        return """
            INSERT INTO audit_events (\(unescaped: insertColumns))
            SELECT e.request_id, e.caller, e.action, e.user_id, e.chat_user_id, e.outcome, e.http_status,
                e.tencent_error_code, e.tencent_error_info, e.attempt, e.latency_ms, e.idempotency_key, e.route, '', '', now(), 0
            FROM \(fragment: rows(events))
            WHERE \(fragment: keep)
            ORDER BY e.position
            """
    }

    /// The columns an INSERT of events names, in the order `insert` selects them.
    static let insertColumns: StaticString = """
        request_id, caller, action, user_id, chat_user_id, outcome, http_status, \
        tencent_error_code, tencent_error_info, attempt, latency_ms, idempotency_key, route, prev_hash, hash, at, id
        """

    /// `events` as the rows `e`, each with its 1-based `position` (a FROM item).
    static func rows(_ events: [AuditEvent]) -> PostgresQuery {
        """
        ROWS FROM (jsonb_to_recordset(\(JSON.text(events))::jsonb) AS (request_id text, caller text, action text, user_id text,
            chat_user_id text, outcome text, http_status integer, tencent_error_code integer, tencent_error_info text,
            attempt integer, latency_ms integer, idempotency_key text, route text))
            WITH ORDINALITY AS e(request_id, caller, action, user_id, chat_user_id, outcome, http_status,
                tencent_error_code, tencent_error_info, attempt, latency_ms, idempotency_key, route, position)
        """
    }

    /// Appends, returning once the event is committed.
    func append(_ event: AuditEvent) async throws {
        try await writes.submit(event)
        metrics.auditEvent(action: event.action.rawValue)
    }
}
