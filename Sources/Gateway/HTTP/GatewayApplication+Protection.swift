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
            let caller = try await authenticate(request, allowed: allowed, context: context)
            context.caller = caller
            context.logger[metadataKey: "caller"] = "\(caller.name)"
        } catch let error as GatewayError {
            let event = AuditEvent(requestID: requestID, caller: nil, action: .authDenied,
                                   outcome: error.status == 401 ? .unauthenticated : .forbidden, httpStatus: error.status,
                                   latencyMilliseconds: context.elapsedMilliseconds)
            if error.status == 403 { context.caller = nil }
            return await finish(error.response(requestID: requestID), event: event, context: context)
        } catch {
            return mapUnexpected(error, context: context)
        }

        do {
            let result = try await handler(request, context)
            return await finish(result.response, event: result.event, context: context, committed: result.committed)
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
    private func finish(_ response: HTTPResponse, event: AuditEvent?, context: RequestContext, committed: Bool = false) async -> HTTPResponse {
        guard var event else { return response }
        if event.latencyMilliseconds == nil { event.latencyMilliseconds = context.elapsedMilliseconds }
        // A database restart takes about a second: ride it out before giving up.
        var delay = Duration.milliseconds(100)
        for attempt in 1...5 {
            do {
                try await audit.append(event)
                if event.action == .accountImport { metrics.importOutcome(event.outcome.rawValue) }
                return response
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

    private func authenticate(_ request: HTTPRequest, allowed: Set<Caller.Role>, context: RequestContext) async throws -> Caller {
        let header = request.headers["Authorization"] ?? ""
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw GatewayError.unauthenticated("Send Authorization: Bearer <token>.")
        }
        guard let caller = try await callers.authenticate(token: parts[1].trimmingOWS()) else {
            throw GatewayError.unauthenticated("The token is unknown or revoked.")
        }
        guard !caller.roles.isDisjoint(with: allowed) else {
            throw GatewayError.forbidden("Caller '\(caller.name)' lacks the role for this route (needs \(allowed.sorted().map(\.rawValue).joined(separator: " or "))).")
        }
        return caller
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
        case let error as PostgresError where error.isConnectionProblem || error.kind == .poolTimeout || error.kind == .poolClosed:
            context.logger.warning("database unavailable", metadata: .error(error))
            return GatewayError.databaseUnavailable.response(requestID: context.requestID)
        default:
            context.logger.error("unexpected error", metadata: .error(error))
            return GatewayError.internalError.response(requestID: context.requestID)
        }
    }
}
