import Foundation
import HTTPServer

/// The one mapping of the edge's errors to problem+json answers (RFC 9457).
extension GatewayError {
    var problem: (slug: String, title: String, detail: String) {
        switch self {
        case .invalidRequest(let errors):
            ("invalid-request", "Invalid request", errors.count == 1 ? "1 field is invalid." : "\(errors.count) fields are invalid.")
        case .malformedBody(let detail): ("malformed-body", "Malformed request body", detail)
        case .unauthenticated(let detail): ("unauthenticated", "Unauthenticated", detail)
        case .forbidden(let detail): ("forbidden", "Forbidden", detail)
        case .notFound(let detail): ("not-found", "Not found", detail)
        case .methodNotAllowed(let allowed):
            ("method-not-allowed", "Method not allowed", "Allowed: \(allowed.joined(separator: ", ")).")
        case .idempotencyKeyInFlight:
            ("idempotency-key-in-flight", "Request with this Idempotency-Key in flight",
             "A request with the same Idempotency-Key is still being processed; retry later.")
        case .conflict(let detail): ("conflict", "Conflict", detail)
        case .payloadTooLarge(let limit): ("payload-too-large", "Payload too large", "The body must be at most \(limit) bytes.")
        case .unsupportedMediaType(let encoding?):
            ("unsupported-media-type", "Unsupported media type",
             "The body must be sent without a content coding (Content-Encoding: \(encoding.prefix(64)) is not supported).")
        case .unsupportedMediaType:
            ("unsupported-media-type", "Unsupported media type", "The body must be JSON, sent as Content-Type: application/json.")
        case .rejectedByTencent(let code, _):
            ("rejected-by-tencent", "Rejected by Tencent Cloud Chat", "Tencent rejected the import for good (error \(code)); retrying will not help.")
        case .idempotencyKeyReused:
            ("idempotency-key-reused", "Idempotency-Key reused", "This Idempotency-Key was already used with a different request body.")
        case .tooManyRequests(let detail, _): ("too-many-requests", "Too many requests", detail)
        case .databaseUnavailable:
            ("database-unavailable", "Database unavailable",
             "The database cannot be reached. Retry later: repeating an import is safe.")
        case .notReady(let detail): ("not-ready", "Not ready", detail)
        case .queryTimedOut:
            ("query-timed-out", "Query timed out",
             "The query took longer than allowed and was cancelled; narrow it (user_id, caller, since and until) or retry later.")
        case .internalError:
            ("internal-error", "Internal server error", "An unexpected error occurred; it has been logged with this request_id.")
        }
    }

    func response(requestID: String) -> HTTPResponse {
        let (slug, title, detail) = problem
        var body = Problem(type: Problem.typeBase + slug, title: title, status: status, detail: detail, requestID: requestID)
        var headers = HTTPHeaders()
        switch self {
        case .invalidRequest(let errors):
            body.errors = errors
        case .rejectedByTencent(let code, let info):
            body.tencentErrorCode = code
            body.tencentErrorInfo = info
        case .unauthenticated:
            headers.set("WWW-Authenticate", "Bearer")
        case .methodNotAllowed(let allowed):
            headers.set("Allow", allowed.joined(separator: ", "))
        case .tooManyRequests(_, let seconds):
            headers.set("Retry-After", String(seconds))
        case .databaseUnavailable, .queryTimedOut, .notReady:
            headers.set("Retry-After", "5")
        default:
            break
        }
        return body.response(headers: headers)
    }
}
