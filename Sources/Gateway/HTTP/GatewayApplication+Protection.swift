import Foundation
import HTTPServer
import Logging
import PostgresClient

/// Protected routes: authentication and roles, the one audit event of each request (with its retry),
/// and the one mapping of errors to answers.
extension GatewayApplication {
    typealias ProtectedHandler = @Sendable (HTTPRequest, RequestContext) async throws -> RouteResult

    /// What a protected handler answers, and what its audit event records.
    struct RouteResult: Sendable {
        var response: HTTPResponse
        var event: AuditEvent?
        /// The request changed stored state (e.g. an accepted import): its answer
        /// must go out even if its audit event cannot be written, since a 503
        /// would tell the caller nothing happened.
        var committed = false
        /// The event is written already (with the outcome it describes, see `RequestEventOffer`).
        var eventRecorded = false
    }

    /// Authenticates, checks the role, runs the handler, maps its errors, and
    /// writes the route's one audit event (or `auth.denied`).
    func protected(
        _ request: HTTPRequest, roles allowed: Set<Caller.Role>, action: AuditEvent.Action,
        _ handler: ProtectedHandler
    ) async -> HTTPResponse {
        var context = RequestContext.current ?? RequestContext(requestID: RequestContext.newRequestID(), logger: logger, started: .now)
        let requestID = context.requestID

        do {
            switch try await authenticate(request, allowed: allowed) {
            case .allowed(let caller):
                context.caller = caller
            case .denied(let error, let caller):
                return await deny(request, error, caller: caller, context: context)
            }
        } catch {
            return mapUnexpected(error, context: context)
        }

        do {
            let result = try await handler(request, context)
            return await finish(result.response, event: result.event, context: context, committed: result.committed,
                                recorded: result.eventRecorded)
        } catch {
            let response = mapUnexpected(error, context: context)
            let event = AuditEvent(requestID: requestID, caller: context.caller?.name, action: action,
                                   userID: request.pathParameters["user_id"], outcome: Self.outcome(forStatus: response.status),
                                   httpStatus: response.status, latencyMilliseconds: context.elapsedMilliseconds,
                                   idempotencyKey: request.headers["Idempotency-Key"])
            return await finish(response, event: event, context: context)
        }
    }

    /// Writes the audit event before answering: no answer goes out without its
    /// record, except a committed change's (see `RouteResult.committed`).
    /// `recorded`: the event is written already (with its outcome), only counted here.
    private func finish(_ response: HTTPResponse, event: AuditEvent?, context: RequestContext, committed: Bool = false,
                        recorded: Bool = false) async -> HTTPResponse {
        guard var event else { return response }
        if recorded {
            metrics.auditEvent(action: event.action.rawValue)  // `AuditLog.append` counts the events it writes
            return audited(response, event)
        }
        if event.latencyMilliseconds == nil { event.latencyMilliseconds = context.elapsedMilliseconds }
        // A database restart takes about a second: ride it out before giving up.
        var delay = Duration.milliseconds(100)
        for attempt in 1...5 {
            do {
                try await audit.append(event)
                return audited(response, event)
            } catch {
                if attempt == 5 || !Self.isTransientDatabaseError(error) {
                    metrics.auditWriteFailure(action: event.action.rawValue)
                    if committed {
                        context.logger.error("audit event lost: the change is committed, so it is answered anyway", metadata: [
                            "audit.action": "\(event.action.rawValue)", "http.status": "\(response.status)",
                        ].adding(error))
                        return response
                    }
                    context.logger.error("audit event could not be written; answering 503", metadata: [
                        "audit.action": "\(event.action.rawValue)",
                    ].adding(error))
                    return mapUnexpected(error, context: context)
                }
                try? await Task.sleep(for: delay)
                delay *= 2
            }
        }
        return response
    }

    /// The answer, once its event is written: an import's outcome is counted.
    private func audited(_ response: HTTPResponse, _ event: AuditEvent) -> HTTPResponse {
        if event.action == .accountImport { metrics.importOutcome(event.outcome.rawValue) }
        return response
    }

    static func isTransientDatabaseError(_ error: Error) -> Bool {
        guard let error = error as? PostgresError else { return false }
        return error.isConnectionProblem || error.kind == .poolTimeout
    }

    static func outcome(forStatus status: Int) -> AuditEvent.Outcome {
        switch status {
        case 400: .invalid
        case 401: .unauthenticated
        case 403: .forbidden
        case 404: .notFound
        case 409: .conflict
        case 413: .tooLarge
        case 415: .unsupportedMediaType
        case 422: .rejected
        case 429: .throttled
        case 503: .unavailable
        case 500...: .error
        default: .ok
        }
    }

    private enum Authentication {
        case allowed(Caller)
        /// The caller is known on a 403.
        case denied(GatewayError, caller: String?)
    }

    private func authenticate(_ request: HTTPRequest, allowed: Set<Caller.Role>) async throws -> Authentication {
        // One credential only: with two, which one counts would be a guess (RFC 9110 §11.6.2
        // defines one Authorization field), and a proxy and the service might guess differently.
        let fields = request.headers.values("Authorization")
        guard fields.count <= 1 else {
            return .denied(.unauthenticated("Send exactly one Authorization header."), caller: nil)
        }
        let header = fields.first ?? ""
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            return .denied(.unauthenticated("Send Authorization: Bearer <token>."), caller: nil)
        }
        guard let caller = try await callers.authenticate(token: parts[1].trimmingOWS()) else {
            return .denied(.unauthenticated("The token is unknown or revoked."), caller: nil)
        }
        guard !caller.roles.isDisjoint(with: allowed) else {
            let needed = allowed.sorted().map(\.rawValue).joined(separator: " or ")
            return .denied(.forbidden("Caller '\(caller.name)' lacks the role for this route (needs \(needed))."), caller: caller.name)
        }
        return .allowed(caller)
    }

    /// Answers a refused request. Its `auth.denied` event is written now if it is
    /// the first from its source this minute; otherwise it is counted, and the
    /// count is audited when the minute ends (`auditDenialCounts`), so a flood of
    /// bad tokens never queues on the audit chain.
    private func deny(_ request: HTTPRequest, _ error: GatewayError, caller: String?, context: RequestContext) async -> HTTPResponse {
        let address = request.remoteAddress.map(Self.host(ofAddress:)) ?? "unknown"
        let route = request.routePattern ?? request.path
        let source = DenialLedger.Source(address: address, status: error.status, caller: caller, route: route)
        let response = error.response(requestID: context.requestID)
        metrics.authDenial(status: error.status)
        guard denials.record(source, requestID: context.requestID) else { return response }
        let event = AuditEvent(requestID: context.requestID, caller: caller, action: .authDenied,
                               outcome: error.status == 401 ? .unauthenticated : .forbidden, httpStatus: error.status,
                               attempt: 1, latencyMilliseconds: context.elapsedMilliseconds, route: route)
        return await finish(response, event: event, context: context)
    }

    /// Audits the denials counted in windows that have closed (all of them with `all`).
    func auditDenialCounts(all: Bool = false) async {
        for summary in all ? denials.drain() : denials.due() {
            let event = AuditEvent(requestID: summary.requestID, caller: summary.source.caller, action: .authDenied,
                                   outcome: summary.source.status == 401 ? .unauthenticated : .forbidden,
                                   httpStatus: summary.source.status, attempt: summary.count, route: summary.source.route)
            do {
                try await audit.append(event)
            } catch {
                metrics.auditWriteFailure(action: event.action.rawValue)
                logger.error("denial count could not be audited", metadata: [
                    "http.remote": "\(summary.source.address)", "audit.denials": "\(summary.count)",
                ].adding(error))
            }
        }
    }

    /// `127.0.0.1:53211` → `127.0.0.1`, `[::1]:53211` → `::1`.
    static func host(ofAddress address: String) -> String {
        guard let colon = address.lastIndex(of: ":") else { return address }
        let host = address[..<colon]
        return String(host.hasPrefix("[") && host.hasSuffix("]") ? host.dropFirst().dropLast() : host)
    }

    /// The one place errors become responses: known errors keep their status,
    /// database outages become 503, anything else a generic 500 that is logged.
    func mapUnexpected(_ error: Error, context: RequestContext) -> HTTPResponse {
        switch error {
        case let error as GatewayError:
            return error.response(requestID: context.requestID)
        case let error as QuotaExceeded:
            return GatewayError.tooManyRequests(error.message, retryAfterSeconds: error.retryAfterSeconds).response(requestID: context.requestID)
        case let error as AccountConflict:
            return GatewayError.conflict(error.message).response(requestID: context.requestID)
        case let error as PostgresError where error.sqlState == "57014":
            context.logger.warning("statement timed out", metadata: .error(error))
            return GatewayError.queryTimedOut.response(requestID: context.requestID)
        case let error as PostgresError where error.isConnectionProblem || error.kind == .poolTimeout || error.kind == .poolClosed:
            context.logger.warning("database unavailable", metadata: .error(error))
            return GatewayError.databaseUnavailable.response(requestID: context.requestID)
        default:
            context.logger.error("unexpected error", metadata: .error(error))
            return GatewayError.internalError.response(requestID: context.requestID)
        }
    }
}
