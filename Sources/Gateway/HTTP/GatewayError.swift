import Foundation

/// Every error the HTTP edge can answer with. Mapped to a problem+json response
/// in one place (`GatewayError+Problem.swift`); anything else is a generic 500.
public enum GatewayError: Error, Sendable, Equatable {
    case invalidRequest([FieldError])
    case malformedBody(String)
    case unauthenticated(String)
    case forbidden(String)
    case notFound(String)
    case methodNotAllowed(allowed: [String])
    case idempotencyKeyInFlight
    case conflict(String)
    case payloadTooLarge(limit: Int)
    /// 415; `encoding` names a content coding the body came in, if that was the reason.
    case unsupportedMediaType(encoding: String? = nil)
    case rejectedByTencent(code: Int, info: String)
    case idempotencyKeyReused
    case tooManyRequests(String, retryAfterSeconds: Int)
    case databaseUnavailable
    /// A statement ran past its timeout (an auditor's query over too much of the trail).
    case queryTimedOut
    case notReady(String)
    case internalError

    public var status: Int {
        switch self {
        case .invalidRequest, .malformedBody: 400
        case .unauthenticated: 401
        case .forbidden: 403
        case .notFound: 404
        case .methodNotAllowed: 405
        case .idempotencyKeyInFlight, .conflict: 409
        case .payloadTooLarge: 413
        case .unsupportedMediaType: 415
        case .rejectedByTencent, .idempotencyKeyReused: 422
        case .tooManyRequests: 429
        case .databaseUnavailable, .queryTimedOut, .notReady: 503
        case .internalError: 500
        }
    }
}
