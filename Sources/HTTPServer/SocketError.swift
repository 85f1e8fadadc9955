import Glibc

/// Why a socket operation failed. Deliberately short: callers mostly care
/// whether the peer went away, a deadline passed, or something else broke.
public enum SocketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A system call failed; `errno` is captured where it happened.
    case failed(operation: String, errno: Int32)
    /// The peer closed or reset the connection.
    case disconnected
    /// A deadline passed before the socket became ready.
    case timedOut
    /// The socket (or its event loop) was closed while the operation waited.
    case closed
    /// A listen address could not be parsed or resolved.
    case invalidAddress(String)

    /// Captures `errno` now, before any other call can overwrite it.
    public static func makeFailed(_ operation: String) -> SocketError {
        .failed(operation: operation, errno: errno)
    }

    public var description: String {
        switch self {
        case let .failed(operation, code):
            "\(operation) failed: \(String(cString: strerror(code))) (errno \(code))"
        case .disconnected: "connection closed by peer"
        case .timedOut: "timed out"
        case .closed: "socket closed"
        case let .invalidAddress(reason): "invalid address: \(reason)"
        }
    }
}
