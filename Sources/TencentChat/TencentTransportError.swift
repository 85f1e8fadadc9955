/// A network-level failure: no Tencent answer was received. Always retryable.
public enum TencentTransportError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The total time allowed for the call ran out.
    case timedOut
    /// DNS, refused or unreachable: no connection was made.
    case cannotConnect(String)
    /// The connection broke before the answer was complete.
    case connectionLost(String)
    /// The TLS handshake or certificate check failed.
    case tls(String)
    /// The calling task was cancelled.
    case cancelled
    /// Anything else the network stack reported.
    case other(String)

    public var description: String {
        switch self {
        case .timedOut: "upstream call timed out"
        case .cannotConnect(let detail): "cannot connect to upstream: \(detail)"
        case .connectionLost(let detail): "upstream connection lost: \(detail)"
        case .tls(let detail): "TLS failure talking to upstream: \(detail)"
        case .cancelled: "upstream call cancelled"
        case .other(let detail): "upstream network error: \(detail)"
        }
    }
}
