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
            // A NUL cannot even reach PostgreSQL as text; no filter needs a control character.
            guard !value.unicodeScalars.contains(where: \.isControlCharacter) else {
                errors.append(FieldError(field: name, message: "must not contain control characters"))
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
                // A '+' left unencoded in a query string arrives as a space (form
                // encoding); an RFC 3339 date-time has no space, so it was the offset's.
                guard let date = RFC3339.parse(value.replacingOccurrences(of: " ", with: "+")) else {
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
        Base64URL.encode(Array("a1:\(id)".utf8))
    }

    static func decodeCursor(_ text: String) -> Int64? {
        guard text.count <= 32, let bytes = Base64URL.decode(text),
              let decoded = String(validating: bytes, as: UTF8.self), decoded.hasPrefix("a1:"),
              let id = Int64(decoded.dropFirst(3)), id > 0 else { return nil }
        return id
    }

    /// How long one page may take before the server cancels it (`503`).
    static let statementTimeout: StaticString = "2s"

    /// One page, newest first, and the cursor of the next (nil on the last page).
    /// Only the given filters are in the statement, so each combination gets a
    /// plan of its own that uses the filter's index (`0009`) in id order; the
    /// statement is cancelled after `statementTimeout`.
    func page(on pool: PostgresPool) async throws -> (events: [AuditEventBody], nextCursor: String?) {
        let rows = try await pool.withTransaction { connection in
            _ = try connection.query("SET LOCAL statement_timeout = '\(unescaped: Self.statementTimeout)'")
            return try connection.query("""
                SELECT id, at, request_id, caller, action, user_id, chat_user_id, outcome, http_status, tencent_error_code,
                       tencent_error_info, attempt, latency_ms, idempotency_key, hash, route
                FROM audit_events
                WHERE \(fragment: conditions)
                ORDER BY id DESC
                LIMIT \(limit + 1)
                """).rows
        }
        let events = try rows.prefix(limit).map(AuditEventBody.init)
        let next = rows.count > limit ? events.last.map { Self.encodeCursor($0.id) } : nil
        return (events, next)
    }

    /// The filters given, joined with AND (`TRUE` when none).
    var conditions: PostgresQuery {
        var parts: [PostgresQuery] = []
        if let userID { parts.append("user_id = \(userID)") }
        if let caller { parts.append("caller = \(caller)") }
        if let action { parts.append("action = \(action.rawValue)") }
        if let outcome { parts.append("outcome = \(outcome)") }
        if let since { parts.append("at >= \(since)") }
        if let until { parts.append("at < \(until)") }
        if let beforeID { parts.append("id < \(beforeID)") }
        guard var joined = parts.first else { return "TRUE" }
        for part in parts.dropFirst() { joined = "\(fragment: joined) AND \(fragment: part)" }
        return joined
    }
}
