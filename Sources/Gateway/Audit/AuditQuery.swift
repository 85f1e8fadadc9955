import Foundation
import PostgresClient

/// `GET /audit`'s filters, validated: every problem is listed at once.
struct AuditQuery: Sendable, Equatable {
    var userID: String?
    var caller: String?
    var action: AuditEvent.Action?
    var outcome: String?
    var since: Date?
    var until: Date?
    var limit = 100
    /// Only events older than this id (the previous page's last).
    var beforeID: Int64?

    static let parameters: Set<String> = ["user_id", "caller", "action", "outcome", "since", "until", "limit", "cursor"]

    init(_ items: [(name: String, value: String)]) throws(ValidationFailure) {
        var errors: [FieldError] = []
        var seen: Set<String> = []
        for (name, value) in items {
            guard Self.parameters.contains(name) else {
                errors.append(FieldError(field: name, message: "unknown query parameter; known: \(Self.parameters.sorted().joined(separator: ", "))"))
                continue
            }
            guard seen.insert(name).inserted else {
                errors.append(FieldError(field: name, message: "given more than once"))
                continue
            }
            switch name {
            case "user_id", "caller", "outcome":
                guard (1...256).contains(value.utf8.count) else {
                    errors.append(FieldError(field: name, message: "must be 1 to 256 bytes"))
                    continue
                }
                if name == "user_id" { userID = value } else if name == "caller" { caller = value } else { outcome = value }
            case "action":
                guard let parsed = AuditEvent.Action(rawValue: value) else {
                    errors.append(FieldError(field: name, message: "must be one of \(AuditEvent.Action.allCases.map(\.rawValue).joined(separator: ", "))"))
                    continue
                }
                action = parsed
            case "since", "until":
                guard let date = RFC3339.parse(value) else {
                    errors.append(FieldError(field: name, message: "must be an RFC 3339 date-time, e.g. 2026-11-26T19:20:27Z"))
                    continue
                }
                if name == "since" { since = date } else { until = date }
            case "limit":
                guard let number = Int(value), (1...1000).contains(number) else {
                    errors.append(FieldError(field: name, message: "must be an integer from 1 to 1000"))
                    continue
                }
                limit = number
            default:  // cursor
                guard let id = Self.decodeCursor(value) else {
                    errors.append(FieldError(field: name, message: "is not a cursor this service gave out"))
                    continue
                }
                beforeID = id
            }
        }
        if let since, let until, since >= until {
            errors.append(FieldError(field: "until", message: "must be after since"))
        }
        if !errors.isEmpty { throw ValidationFailure(errors: errors) }
    }

    /// Opaque to callers: base64url of "a1:<id>".
    static func encodeCursor(_ id: Int64) -> String {
        ChatID.base64URL(Array("a1:\(id)".utf8))
    }

    static func decodeCursor(_ text: String) -> Int64? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard text.count <= 32, let data = Data(base64Encoded: base64),
              let decoded = String(data: data, encoding: .utf8), decoded.hasPrefix("a1:"),
              let id = Int64(decoded.dropFirst(3)), id > 0 else { return nil }
        return id
    }

    /// One page, newest first, and the cursor of the next (nil on the last page).
    func page(on pool: PostgresPool) async throws -> (events: [AuditEventBody], nextCursor: String?) {
        let rows = try await pool.query("""
            SELECT id, at, request_id, caller, action, user_id, chat_user_id, outcome, http_status, tencent_error_code,
                   tencent_error_info, attempt, latency_ms, idempotency_key, hash
            FROM audit_events
            WHERE (\(userID)::text IS NULL OR user_id = \(userID)::text)
              AND (\(caller)::text IS NULL OR caller = \(caller)::text)
              AND (\(action?.rawValue)::text IS NULL OR action = \(action?.rawValue)::text)
              AND (\(outcome)::text IS NULL OR outcome = \(outcome)::text)
              AND (\(since)::timestamptz IS NULL OR at >= \(since)::timestamptz)
              AND (\(until)::timestamptz IS NULL OR at < \(until)::timestamptz)
              AND (\(beforeID)::bigint IS NULL OR id < \(beforeID)::bigint)
            ORDER BY id DESC
            LIMIT \(limit + 1)
            """).rows
        let events = try rows.prefix(limit).map(AuditEventBody.init)
        let next = rows.count > limit ? events.last.map { Self.encodeCursor($0.id) } : nil
        return (events, next)
    }
}

/// An audit event as `GET /audit` shows it: every key present, null when absent.
struct AuditEventBody: Encodable, Sendable {
    var id: Int64
    var at: Date
    var requestID, caller: String?
    var action: String
    var userID, chatUserID: String?
    var outcome: String
    var httpStatus, tencentErrorCode: Int?
    var tencentErrorInfo: String?
    var attempt, latencyMilliseconds: Int?
    var idempotencyKey: String?
    var hash: String

    init(_ row: PostgresRow) throws {
        id = try row.int64("id")
        at = try row.date("at")
        requestID = try row.optionalString("request_id")
        caller = try row.optionalString("caller")
        action = try row.string("action")
        userID = try row.optionalString("user_id")
        chatUserID = try row.optionalString("chat_user_id")
        outcome = try row.string("outcome")
        httpStatus = try row.optionalInt("http_status")
        tencentErrorCode = try row.optionalInt("tencent_error_code")
        tencentErrorInfo = try row.optionalString("tencent_error_info")
        attempt = try row.optionalInt("attempt")
        latencyMilliseconds = try row.optionalInt("latency_ms")
        idempotencyKey = try row.optionalString("idempotency_key")
        hash = try row.string("hash")
    }

    /// The contract's order, used for CSV columns too.
    static let fields = ["id", "at", "request_id", "caller", "action", "user_id", "chat_user_id", "outcome", "http_status",
                         "tencent_error_code", "tencent_error_info", "attempt", "latency_ms", "idempotency_key", "hash"]

    /// The values in `fields` order, as text; nil for null.
    var values: [String?] {
        [String(id), RFC3339.string(at), requestID, caller, action, userID, chatUserID, outcome, httpStatus.map(String.init),
         tencentErrorCode.map(String.init), tencentErrorInfo, attempt.map(String.init), latencyMilliseconds.map(String.init),
         idempotencyKey, hash]
    }

    enum CodingKeys: String, CodingKey {
        case id, at, requestID = "request_id", caller, action, userID = "user_id", chatUserID = "chat_user_id", outcome
        case httpStatus = "http_status", tencentErrorCode = "tencent_error_code", tencentErrorInfo = "tencent_error_info"
        case attempt, latencyMilliseconds = "latency_ms", idempotencyKey = "idempotency_key", hash
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(RFC3339.string(at), forKey: .at)
        try c.encode(requestID, forKey: .requestID)
        try c.encode(caller, forKey: .caller)
        try c.encode(action, forKey: .action)
        try c.encode(userID, forKey: .userID)
        try c.encode(chatUserID, forKey: .chatUserID)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(httpStatus, forKey: .httpStatus)
        try c.encode(tencentErrorCode, forKey: .tencentErrorCode)
        try c.encode(tencentErrorInfo, forKey: .tencentErrorInfo)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(latencyMilliseconds, forKey: .latencyMilliseconds)
        try c.encode(idempotencyKey, forKey: .idempotencyKey)
        try c.encode(hash, forKey: .hash)
    }
}
