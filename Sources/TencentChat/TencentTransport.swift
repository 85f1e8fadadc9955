import Foundation

/// Sends one POST and returns the raw answer. The seam between the client
/// and the network: production uses `CurlTransport` (or `URLSessionTransport`),
/// tests use fakes or call the sandbox's handler in-process.
public protocol TencentTransport: Sendable {
    /// Throws `TencentTransportError` for network failures (other errors are
    /// wrapped by the client). A non-200 status is returned, not thrown.
    func post(url: URL, body: Data, timeout: Duration) async throws -> (status: Int, body: Data)
}
