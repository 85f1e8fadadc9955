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

    /// Of CSV, NDJSON and JSON named in Accept, the one with the highest
    /// quality (`q`, 1 when absent; RFC 9110 §12.5.1) wins, the first named on a
    /// tie; `q=0` means "not this one". Anything else, or nothing, is JSON
    /// (never 406).
    static func auditFormat(accept: String?) -> AuditFormat {
        var best: (format: AuditFormat, quality: Double)?
        for item in (accept ?? "").split(separator: ",") {
            let parts = item.split(separator: ";")
            guard let first = parts.first else { continue }
            let format: AuditFormat
            switch first.trimmingOWS().lowercased() {
            case "text/csv": format = .csv
            case "application/x-ndjson": format = .ndjson
            case "application/json": format = .json
            default: continue
            }
            var quality = 1.0
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingOWS().lowercased() }
                if pair.count == 2, pair[0] == "q" { quality = Double(pair[1]).map { min(max($0, 0), 1) } ?? 0 }
            }
            if quality > 0, quality > (best?.quality ?? 0) { best = (format, quality) }
        }
        return best?.format ?? .json
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
