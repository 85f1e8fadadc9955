import Foundation
import PostgresClient

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
    var route: String?
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
        route = try row.optionalString("route")
        hash = try row.string("hash")
    }

    /// The contract's order (and `route` after it), used for CSV columns too.
    static let fields = ["id", "at", "request_id", "caller", "action", "user_id", "chat_user_id", "outcome", "http_status",
                         "tencent_error_code", "tencent_error_info", "attempt", "latency_ms", "idempotency_key", "hash", "route"]

    /// The values in `fields` order, as text; nil for null.
    var values: [String?] {
        [String(id), RFC3339.string(at), requestID, caller, action, userID, chatUserID, outcome, httpStatus.map(String.init),
         tencentErrorCode.map(String.init), tencentErrorInfo, attempt.map(String.init), latencyMilliseconds.map(String.init),
         idempotencyKey, hash, route]
    }

    enum CodingKeys: String, CodingKey {
        case id, at, requestID = "request_id", caller, action, userID = "user_id", chatUserID = "chat_user_id", outcome
        case httpStatus = "http_status", tencentErrorCode = "tencent_error_code", tencentErrorInfo = "tencent_error_info"
        case attempt, latencyMilliseconds = "latency_ms", idempotencyKey = "idempotency_key", hash, route
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
        // Beyond the contract's keys, after them: the refused route of an `auth.denied`.
        try c.encode(route, forKey: .route)
    }
}
