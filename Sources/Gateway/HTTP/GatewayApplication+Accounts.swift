import Foundation
import HTTPServer
import PostgresClient

extension GatewayApplication {
    /// `POST /accounts`
    @Sendable func postAccount(_ request: HTTPRequest, _ context: RequestContext) async throws -> RouteResult {
        let caller = context.caller?.name ?? ""
        var event = AuditEvent(requestID: context.requestID, caller: caller, action: .accountImport, outcome: .invalid,
                               idempotencyKey: request.headers["Idempotency-Key"])
        func reject(_ error: GatewayError) -> RouteResult {
            event.httpStatus = error.status
            event.outcome = Self.outcome(forStatus: error.status)
            if case .rejectedByTencent(let code, let info) = error {
                event.tencentErrorCode = code
                event.tencentErrorInfo = info
            }
            return RouteResult(response: error.response(requestID: context.requestID), event: event)
        }

        let object: [String: Any]
        switch Self.jsonObjectBody(request, limit: Self.maxAccountBodyBytes) {
        case .success(let value): object = value
        case .failure(let error): return reject(error)
        }
        let input: AccountInput
        do {
            input = try AccountInput.parse(object, strategy: configuration.idStrategy)
        } catch {
            event.userID = object["user_id"] as? String
            return reject(.invalidRequest(error.errors))
        }
        event.userID = input.userID
        event.chatUserID = input.chatUserID

        let keys = request.headers.values("Idempotency-Key")
        guard let key = keys.first else {
            return try await importAccount(input, caller: caller, context: context, event: event)
        }
        guard keys.count == 1, IdempotencyStore.isValid(key) else {
            return reject(.invalidRequest([FieldError(field: "Idempotency-Key", message: "must be one header of 1 to 255 visible ASCII characters")]))
        }
        switch try await idempotency.begin(caller: caller, key: key, fingerprint: IdempotencyStore.fingerprint(input)) {
        case .proceed:
            break
        case .replay(let status, let body):
            event.outcome = .replayed
            event.httpStatus = status
            var headers = HTTPHeaders()
            headers.set("Content-Type", status >= 400 ? "application/problem+json; charset=utf-8" : "application/json; charset=utf-8")
            headers.set("Idempotent-Replayed", "true")
            if status < 400 { headers.set("Location", Self.location(of: input.userID)) }
            return RouteResult(response: HTTPResponse(status: status, headers: headers, body: Array(body.utf8)), event: event)
        case .inFlight:
            return reject(.idempotencyKeyInFlight)
        case .mismatch:
            return reject(.idempotencyKeyReused)
        }
        do {
            let result = try await importAccount(input, caller: caller, context: context, event: event)
            do {
                try await idempotency.finish(caller: caller, key: key, status: result.response.status, body: result.response.body)
            } catch {
                // The answer stands; the key stays held until it expires, then a retry is processed again.
                context.logger.warning("could not store the idempotent answer", metadata: .error(error))
            }
            return result
        } catch {
            // Reopen the key so a retry of the same request is processed again.
            try? await idempotency.finish(caller: caller, key: key, status: 503, body: [])
            throw error
        }
    }

    /// Stores the intent, tries to deliver it, and answers with what is known.
    private func importAccount(_ input: AccountInput, caller: String, context: RequestContext, event template: AuditEvent) async throws -> RouteResult {
        // A final answer of this request's own upstream call is audited in the statement that records it.
        let offer = RequestEventOffer { outcome in
            var event = Self.event(template, for: outcome)
            event.latencyMilliseconds = context.elapsedMilliseconds
            return event
        }
        let outcome = try await imports.importAccount(input, caller: caller, requestID: context.requestID, requestEvent: offer,
                                                      repeatEvent: RepeatLookup.Event(template: template, started: context.started))
        let event = Self.event(template, for: outcome)
        if outcome.kind == .rejected, let error = outcome.account.lastError {
            let rejection = GatewayError.rejectedByTencent(code: error.code, info: error.info)
            return RouteResult(response: rejection.response(requestID: context.requestID), event: event, committed: true,
                               eventRecorded: outcome.eventRecorded)
        }
        var headers = HTTPHeaders()
        headers.set("Location", Self.location(of: outcome.account.userID))
        if outcome.kind == .pending {
            let wait = delivery.limiter(for: outcome.account).secondsUntilFree()
            headers.set("Retry-After", String(wait))
        }
        return RouteResult(response: Self.json(outcome.httpStatus, outcome.account, headers: headers), event: event,
                           committed: outcome.kind != .alreadyImported, eventRecorded: outcome.eventRecorded)
    }

    /// The audit event of a `POST /accounts` answered with `outcome`.
    static func event(_ template: AuditEvent, for outcome: ImportService.Outcome) -> AuditEvent {
        var event = template
        event.attempt = outcome.account.attempts
        event.outcome = outcome.kind.auditOutcome
        event.httpStatus = outcome.httpStatus
        if let error = outcome.account.lastError {
            event.tencentErrorCode = error.code
            event.tencentErrorInfo = error.info
        }
        return event
    }

    static func location(of userID: String) -> String {
        "/accounts/" + percentEncodePathSegment(userID)
    }

    /// `GET /accounts/{user_id}`
    @Sendable func getAccount(_ request: HTTPRequest, _ context: RequestContext) async throws -> RouteResult {
        let userID = request.pathParameters["user_id"] ?? ""
        var event = AuditEvent(requestID: context.requestID, caller: context.caller?.name, action: .accountLookup,
                               userID: userID, outcome: .found)
        let account = try await pool.withConnection { try AccountStore.fetch(userID, on: $0) }
        guard let account else {
            let error = GatewayError.notFound("No account with user_id '\(userID)'.")
            event.outcome = .notFound
            event.httpStatus = 404
            return RouteResult(response: error.response(requestID: context.requestID), event: event)
        }
        event.chatUserID = account.chatUserID
        event.httpStatus = 200
        return RouteResult(response: Self.json(200, account), event: event)
    }

    /// The body as a JSON object, or the 413/415/400 to answer.
    static func jsonObjectBody(_ request: HTTPRequest, limit: Int) -> Result<[String: Any], GatewayError> {
        if let failure = checkJSONBody(request, limit: limit) { return .failure(failure) }
        return JSON.object(request.body).mapError { GatewayError.malformedBody($0.message) }
    }

    /// 413 and 415 before any parsing.
    static func checkJSONBody(_ request: HTTPRequest, limit: Int) -> GatewayError? {
        if request.body.count > limit { return .payloadTooLarge(limit: limit) }
        guard let contentType = request.headers["Content-Type"] else { return .unsupportedMediaType() }
        let mediaType = contentType.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false)[0].trimmingOWS().lowercased()
        guard mediaType == "application/json" || (mediaType.hasPrefix("application/") && mediaType.hasSuffix("+json")) else {
            return .unsupportedMediaType()
        }
        // RFC 9110 §8.4.1: a body in a content coding the server does not decode is refused, not read as is.
        let codings = request.headers.values("Content-Encoding").flatMap { $0.split(separator: ",") }.map { $0.trimmingOWS() }
        if let coding = codings.first(where: { !$0.isEmpty && $0.lowercased() != "identity" }) {
            return .unsupportedMediaType(encoding: coding)
        }
        return nil
    }

    /// RFC 3986's `pchar` without `%` and `;`: unreserved, sub-delims but `;`,
    /// `:` and `@` (Foundation's `urlPathAllowed` less `/`, as before). Every
    /// other UTF-8 byte is written as `%XX`. In Swift, on the bytes: Foundation's
    /// `addingPercentEncoding` took 3 % of a repeat request's CPU.
    static func percentEncodePathSegment(_ segment: String) -> String {
        let utf8 = segment.utf8
        guard !utf8.allSatisfy(isPathSegmentByte) else { return segment }
        var encoded: [UInt8] = []
        encoded.reserveCapacity(utf8.count * 3)
        for byte in utf8 {
            if isPathSegmentByte(byte) {
                encoded.append(byte)
            } else {
                encoded.append(UInt8(ascii: "%"))
                encoded.append(upperHexDigits[Int(byte >> 4)])
                encoded.append(upperHexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    private static let upperHexDigits = Array("0123456789ABCDEF".utf8)

    private static func isPathSegmentByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"),  // unreserved
             UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("),
             UInt8(ascii: ")"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ","), UInt8(ascii: "="),  // sub-delims but `;`
             UInt8(ascii: ":"), UInt8(ascii: "@"):
            return true
        default:
            return false
        }
    }
}

extension ImportService.Outcome {
    /// The contract's status for each outcome of `POST /accounts`.
    var httpStatus: Int {
        switch kind {
        case .imported: 201
        case .alreadyImported, .updated: 200
        case .pending: 202
        case .rejected: 422
        }
    }
}
