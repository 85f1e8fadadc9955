/// A call that produced no Tencent answer to classify.
public enum TencentClientError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The network failed (retryable).
    case transport(TencentTransportError)
    /// An HTTP status other than 200: a 502 from Tencent's edge (retryable), or a
    /// 3xx/4xx from a wrong base URL or proxy (misconfiguration).
    case httpStatus(Int)
    /// HTTP 200 whose body is not Tencent's JSON (retryable).
    case undecodableBody(String)
    /// The request was refused before sending (e.g. a batch outside 1–100): a caller bug.
    case invalidRequest(String)

    public var errorClass: TencentErrorClass {
        switch self {
        case .transport, .undecodableBody: .transient
        case .httpStatus(let status): TencentErrorClass.classify(httpStatus: status)
        case .invalidRequest: .gatewayBug
        }
    }

    public var description: String {
        switch self {
        case .transport(let error): error.description
        case .httpStatus(let status): "upstream answered HTTP \(status)"
        case .undecodableBody(let reason): "upstream answer not understood: \(reason)"
        case .invalidRequest(let reason): "invalid upstream request: \(reason)"
        }
    }
}
