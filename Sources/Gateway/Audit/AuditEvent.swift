import Foundation

/// One row of the audit trail. `id`, `at`, `hash` are assigned by the database
/// (the chain trigger), so they are nil on events not yet written.
public struct AuditEvent: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable, Encodable {
        case accountImport = "account.import"
        case accountBatchImport = "account.batch_import"
        case accountLookup = "account.lookup"
        case auditQuery = "audit.query"
        case upstreamAccountImport = "upstream.account_import"
        case upstreamMultiaccountImport = "upstream.multiaccount_import"
        case authDenied = "auth.denied"
    }

    public var id: Int64?
    public var at: Date?
    public var requestID: String?
    public var caller: String?
    public var action: Action
    public var userID: String?
    public var chatUserID: String?
    public var outcome: Outcome
    public var httpStatus: Int?
    public var tencentErrorCode: Int?
    public var tencentErrorInfo: String?
    public var attempt: Int?
    public var latencyMilliseconds: Int?
    public var idempotencyKey: String?
    /// The route pattern, e.g. `/accounts/{user_id}`, where the action alone does not say it (`auth.denied`).
    public var route: String?
    public var prevHash: String?
    public var hash: String?

    public init(
        requestID: String?, caller: String?, action: Action, userID: String? = nil, chatUserID: String? = nil,
        outcome: Outcome, httpStatus: Int? = nil, tencentErrorCode: Int? = nil, tencentErrorInfo: String? = nil,
        attempt: Int? = nil, latencyMilliseconds: Int? = nil, idempotencyKey: String? = nil, route: String? = nil
    ) {
        self.requestID = requestID
        self.caller = caller
        self.action = action
        self.userID = userID
        self.chatUserID = chatUserID
        self.outcome = outcome
        self.httpStatus = httpStatus
        self.tencentErrorCode = tencentErrorCode
        self.tencentErrorInfo = tencentErrorInfo
        self.attempt = attempt
        self.latencyMilliseconds = latencyMilliseconds
        self.idempotencyKey = idempotencyKey
        self.route = route
    }
}

/// The fields a writer supplies, under their column names (absent when nil),
/// as `AuditLog.insert` sends them; id, at, prev_hash and hash are the database's.
/// Text that came from a caller is made storable on the way (`AuditText`): a
/// request refused for a NUL in its user_id is still audited, and an 8 KiB
/// user_id in a path does not become an 8 KiB audit row.
extension AuditEvent: JSONWritable {
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("action", action.rawValue)
            json.fieldIfPresent("attempt", attempt)
            json.fieldIfPresent("caller", AuditText.storable(caller, maxBytes: 200))
            json.fieldIfPresent("chat_user_id", AuditText.storable(chatUserID, maxBytes: 64))
            json.fieldIfPresent("http_status", httpStatus)
            json.fieldIfPresent("idempotency_key", AuditText.storable(idempotencyKey, maxBytes: 255))
            json.fieldIfPresent("latency_ms", latencyMilliseconds)
            json.field("outcome", outcome.rawValue)
            json.fieldIfPresent("request_id", AuditText.storable(requestID, maxBytes: 200))
            json.fieldIfPresent("route", AuditText.storable(route, maxBytes: 200))
            json.fieldIfPresent("tencent_error_code", tencentErrorCode)
            json.fieldIfPresent("tencent_error_info", AuditText.storable(tencentErrorInfo, maxBytes: 1024))
            json.fieldIfPresent("user_id", AuditText.storable(userID, maxBytes: 256))
        }
    }
}

extension AuditEvent {
    /// The text the chain hashes, byte for byte as `audit_canonical()` in
    /// schema/sql/0001_initial.sql builds it: every text field length-prefixed.
    func canonical(previousHash: String, id: Int64, atMicroseconds: Int64) -> String {
        var bytes: [UInt8] = []
        AuditCanonical.write(
            into: &bytes, previousHash: previousHash.utf8, id: String(id), at: String(atMicroseconds), requestID: requestID,
            caller: caller, action: action.rawValue, userID: userID, chatUserID: chatUserID, outcome: outcome.rawValue,
            httpStatus: httpStatus.map(String.init), tencentErrorCode: tencentErrorCode.map(String.init),
            tencentErrorInfo: tencentErrorInfo, attempt: attempt.map(String.init),
            latencyMilliseconds: latencyMilliseconds.map(String.init), idempotencyKey: idempotencyKey, route: route)
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// The chain's canonical form on the Swift side, defined once: events
/// (`AuditEvent.canonical`) and `audit verify`, which passes the columns' raw
/// texts, both build it here. The fields follow `prev_hash`, joined by `|`;
/// numbers are decimal, text is `<octet length>:<value>`, NULL is `-`.
enum AuditCanonical {
    static func write(
        into buffer: inout [UInt8], previousHash: some Sequence<UInt8>, id: String, at: String, requestID: String?,
        caller: String?, action: String, userID: String?, chatUserID: String?, outcome: String, httpStatus: String?,
        tencentErrorCode: String?, tencentErrorInfo: String?, attempt: String?, latencyMilliseconds: String?,
        idempotencyKey: String?, route: String?
    ) {
        buffer.removeAll(keepingCapacity: true)
        buffer.append(contentsOf: previousHash)
        func number(_ value: String?) {
            buffer.append(UInt8(ascii: "|"))
            if let value { buffer.append(contentsOf: value.utf8) } else { buffer.append(UInt8(ascii: "-")) }
        }
        func text(_ value: String?) {
            buffer.append(UInt8(ascii: "|"))
            guard let value else { buffer.append(UInt8(ascii: "-")); return }
            buffer.append(contentsOf: String(value.utf8.count).utf8)
            buffer.append(UInt8(ascii: ":"))
            buffer.append(contentsOf: value.utf8)
        }
        number(id)
        number(at)
        text(requestID)
        text(caller)
        text(action)
        text(userID)
        text(chatUserID)
        text(outcome)
        number(httpStatus)
        number(tencentErrorCode)
        text(tencentErrorInfo)
        number(attempt)
        number(latencyMilliseconds)
        text(idempotencyKey)
        // Since migration 0012, and only when present: older events hash as before.
        if route != nil { text(route) }
    }
}
