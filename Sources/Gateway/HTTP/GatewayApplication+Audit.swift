import Foundation
import HTTPServer

extension GatewayApplication {
    /// `GET /audit`: one page of the trail, newest first, as JSON, CSV or NDJSON.
    @Sendable func getAudit(_ request: HTTPRequest, _ context: RequestContext) async throws -> RouteResult {
        var event = AuditEvent(requestID: context.requestID, caller: context.caller?.name, action: .auditQuery, outcome: .ok)
        let query: AuditQuery
        do {
            query = try AuditQuery(request.query)
        } catch {
            let problem = GatewayError.invalidRequest(error.errors)
            event.outcome = .invalid
            event.httpStatus = problem.status
            return RouteResult(response: problem.response(requestID: context.requestID), event: event)
        }
        event.userID = query.userID
        let caller = context.caller?.name ?? ""
        guard auditQueries.tryAcquire(caller) else {
            let busy = GatewayError.tooManyRequests(
                "At most \(auditQueries.limit) audit queries of one caller run at a time; retry when one has finished.",
                retryAfterSeconds: 1)
            event.outcome = .throttled
            event.httpStatus = busy.status
            return RouteResult(response: busy.response(requestID: context.requestID), event: event)
        }
        defer { auditQueries.release(caller) }
        let (events, nextCursor) = try await query.page(on: pool)
        event.httpStatus = 200

        var headers = HTTPHeaders()
        if let nextCursor { headers.set("X-Next-Cursor", nextCursor) }
        switch Self.auditFormat(accept: request.headers["Accept"]) {
        case .csv:
            headers.set("Content-Type", "text/csv; charset=utf-8")
            var text = AuditEventBody.fields.map(Self.csvField).joined(separator: ",") + "\r\n"
            for body in events {
                text += body.values.map(Self.csvField).joined(separator: ",") + "\r\n"
            }
            return RouteResult(response: HTTPResponse(status: 200, headers: headers, body: Array(text.utf8)), event: event)
        case .ndjson:
            headers.set("Content-Type", "application/x-ndjson; charset=utf-8")
            var bytes: [UInt8] = []
            for body in events {
                bytes += JSON.encode(body)
                bytes.append(UInt8(ascii: "\n"))
            }
            return RouteResult(response: HTTPResponse(status: 200, headers: headers, body: bytes), event: event)
        case .json:
            return RouteResult(response: Self.json(200, AuditPage(events: events, nextCursor: nextCursor), headers: headers), event: event)
        }
    }

    enum AuditFormat { case json, csv, ndjson }

    /// The first of CSV or NDJSON named in Accept wins; anything else is JSON.
    static func auditFormat(accept: String?) -> AuditFormat {
        for item in (accept ?? "").split(separator: ",") {
            let mediaType = item.split(separator: ";")[0].trimmingOWS().lowercased()
            if mediaType == "text/csv" { return .csv }
            if mediaType == "application/x-ndjson" { return .ndjson }
            if mediaType == "application/json" { return .json }
        }
        return .json
    }

    /// RFC 4180, every field quoted (`""` for a quote); null is an empty,
    /// unquoted field. Callers control user_id, Idempotency-Key and Tencent's
    /// ErrorInfo, and auditors open these files in spreadsheets, which may split
    /// on `;`, tab or `|` instead of `,` (a locale's list separator) and then run
    /// any cell that starts with `=`, `+`, `-`, `@`, tab or CR as a formula. So a
    /// `'` goes before such a character wherever a cell could start: at the start
    /// of the field and after any of those separators or a line break (as OWASP
    /// advises for the first, and for every place in any locale).
    static func csvField(_ value: String?) -> String {
        guard let value else { return "" }
        var neutralized = ""
        var cellMayStart = true
        for character in value {
            if cellMayStart, csvFormulaStarts.contains(character) { neutralized.append("'") }
            neutralized.append(character == "\"" ? "\"\"" : String(character))
            cellMayStart = csvSeparators.contains(character)
        }
        return "\"" + neutralized + "\""
    }

    private static let csvFormulaStarts: Set<Character> = ["=", "+", "-", "@", "\t", "\r", "\r\n"]
    private static let csvSeparators: Set<Character> = [",", ";", "\t", "|", "\n", "\r", "\r\n"]
}

struct AuditPage: Encodable {
    var events: [AuditEventBody]
    var nextCursor: String?

    enum CodingKeys: String, CodingKey {
        case events, nextCursor = "next_cursor"
    }

    func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(events, forKey: .events)
        try c.encode(nextCursor, forKey: .nextCursor)
    }
}
