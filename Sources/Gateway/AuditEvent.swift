import Foundation

/// One row of the audit trail. `id`, `at`, `hash` are assigned by the database
/// (the chain trigger), so they are nil on events not yet written.
public struct AuditEvent: Sendable, Equatable {
    public enum Action: String, Sendable, CaseIterable {
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
    public var outcome: String
    public var httpStatus: Int?
    public var tencentErrorCode: Int?
    public var tencentErrorInfo: String?
    public var attempt: Int?
    public var latencyMilliseconds: Int?
    public var idempotencyKey: String?
    public var prevHash: String?
    public var hash: String?

    public init(
        requestID: String?, caller: String?, action: Action, userID: String? = nil, chatUserID: String? = nil,
        outcome: String, httpStatus: Int? = nil, tencentErrorCode: Int? = nil, tencentErrorInfo: String? = nil,
        attempt: Int? = nil, latencyMilliseconds: Int? = nil, idempotencyKey: String? = nil
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
    }
}

extension AuditEvent {
    /// The text the chain hashes, byte for byte as `audit_canonical()` in
    /// schema/sql/0001_initial.sql builds it: every text field length-prefixed.
    func canonical(previousHash: String, id: Int64, atMicroseconds: Int64) -> String {
        let text = Digest.lengthPrefixed
        func number(_ value: Int?) -> String { value.map(String.init) ?? "-" }
        return [
            previousHash, String(id), String(atMicroseconds), text(requestID), text(caller), text(action.rawValue),
            text(userID), text(chatUserID), text(outcome), number(httpStatus), number(tencentErrorCode),
            text(tencentErrorInfo), number(attempt), number(latencyMilliseconds), text(idempotencyKey),
        ].joined(separator: "|")
    }
}
