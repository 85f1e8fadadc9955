import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Synchronization
import CCurlCAFile

/// The fallback transport (`TENCENT_TRANSPORT=urlsession`, or where libcurl
/// cannot be loaded directly; `CurlTransport` is the default): URLSession
/// (libcurl on Linux) with pooled keep-alive connections, a hard total deadline
/// per call, and redirects refused.
public final class URLSessionTransport: TencentTransport {
    private let session: URLSession

    /// Calls to Tencent under way at once at the most, each on a keep-alive connection
    /// of its own. The budget is 300 calls/s (200 account_import, 100
    /// multiaccount_import); a call that finds every connection busy waits inside
    /// URLSession, past the rate limit's slot, and leaves late with others. 128 keeps
    /// the whole budget moving up to about 400 ms per call (16 capped one replica at
    /// 72 account_import calls/s with the sandbox answering in 100–200 ms:
    /// `Benchmarks/rate_limit_bench.py --replicas 1 --sandbox-latency 100-200`).
    public static let defaultMaxConnectionsPerHost = 128

    /// - Parameter maxConnectionsPerHost: the keep-alive pool size towards Tencent.
    public init(maxConnectionsPerHost: Int = URLSessionTransport.defaultMaxConnectionsPerHost) {
        let configuration = URLSessionConfiguration.ephemeral  // no cookies, no disk cache
        configuration.httpMaximumConnectionsPerHost = maxConnectionsPerHost
        configuration.httpShouldSetCookies = false
        configuration.urlCache = nil
        configuration.requestCachePolicy = .reloadIgnoringLocalCacheData
        session = URLSession(configuration: configuration, delegate: RedirectRefuser(), delegateQueue: nil)
    }

    /// The same transport, verifying the upstream against the CA bundle in
    /// `caFile` instead of the system trust store: for an operator whose egress
    /// goes through a proxy that re-signs TLS with a private CA. Verification
    /// stays on: the certificate chain must lead to a CA in the file (libcurl's
    /// default certificate directory, /etc/ssl/certs on Debian, is still
    /// consulted) and must name the host.
    ///
    /// **Process-wide.** FoundationNetworking (Linux) has no per-session CA
    /// option, so the file is set on libcurl itself (see `CCurlCAFile`) and
    /// applies to every URLSession request in the process. Configure it once at
    /// start-up, before any request; a second, different file is refused.
    ///
    /// - Parameters:
    ///   - maxConnectionsPerHost: the keep-alive pool size towards Tencent.
    ///   - caFile: a PEM file of one or more CA certificates; `nil` keeps the
    ///     system trust store (the same as `init(maxConnectionsPerHost:)`).
    /// - Throws: `CAFileError` when the file cannot be used; the transport is
    ///   then not made, so a misconfiguration stops start-up instead of
    ///   failing every call.
    public convenience init(maxConnectionsPerHost: Int = URLSessionTransport.defaultMaxConnectionsPerHost, caFile: String?) throws {
        if let caFile { try Self.trustCertificateAuthorities(inFile: caFile) }
        self.init(maxConnectionsPerHost: maxConnectionsPerHost)
    }

    /// Why a CA file was not taken.
    public enum CAFileError: Error, Equatable, Sendable, CustomStringConvertible {
        /// `INSECURE_SSL_NO_VERIFY`, the value that turns verification off in
        /// FoundationNetworking (on Android): never accepted.
        case insecureValueRefused
        /// Missing, unreadable, or without a PEM certificate.
        case notACertificateFile(String)
        /// A different file is already in effect for this process.
        case conflictsWithConfigured(String)
        /// This platform or binary cannot apply it (not Linux, or the hook not exported).
        case unsupported

        public var description: String {
            switch self {
            case .insecureValueRefused: "refusing INSECURE_SSL_NO_VERIFY: TLS verification stays on"
            case .notACertificateFile(let path): "\(path) is not a readable PEM file of CA certificates"
            case .conflictsWithConfigured(let path): "a different CA file is already in effect for this process: \(path)"
            case .unsupported: "a CA file cannot be applied to URLSession in this binary (Linux with the CCurlCAFile hook only)"
            }
        }
    }

    /// The CA file in effect for the process, once one is set.
    private static let configuredCAFile = Mutex<String?>(nil)

    /// The file's absolute path, once it is known to be usable: not the value that
    /// turns verification off, and a readable PEM file with a certificate in it.
    static func validatedCAFile(_ path: String) throws -> String {
        guard path != "INSECURE_SSL_NO_VERIFY" else { throw CAFileError.insecureValueRefused }
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path  // libcurl opens it later, maybe from another directory
        guard let pem = try? String(contentsOfFile: absolute, encoding: .utf8),
              pem.contains("-----BEGIN CERTIFICATE-----")
        else { throw CAFileError.notACertificateFile(path) }
        return absolute
    }

    private static func trustCertificateAuthorities(inFile path: String) throws {
        let absolute = try validatedCAFile(path)
        try configuredCAFile.withLock { configured in
            if let configured {
                guard configured == absolute else { throw CAFileError.conflictsWithConfigured(configured) }
                return
            }
            guard ccurl_set_ca_file(absolute) == 0 else { throw CAFileError.unsupported }
            configured = absolute
        }
    }

    deinit {
        session.finishTasksAndInvalidate()
    }

    public func post(url: URL, body: Data, timeout: Duration) async throws -> (status: Int, body: Data) {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.setValue("application/json", forHTTPHeaderField: "Accept")
        // URLRequest's timeout is an idle timeout, and FoundationNetworking
        // truncates it to whole seconds (0.5 s times out at once): keep it at
        // least a second; the timer below bounds the whole call exactly.
        request.timeoutInterval = max(1, timeout.seconds.rounded(.up))

        let call = Call()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(status: Int, body: Data), any Error>) in
                let task = session.dataTask(with: request) { data, response, error in
                    continuation.resume(with: Self.result(data: data, response: response, error: error, ending: call.ending))
                }
                call.start(task)
                // URLRequest.timeoutInterval is an idle timeout; this bounds the whole call.
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout.seconds) { call.end(.timedOut) }
            }
        } onCancel: {
            call.end(.cancelled)
        }
    }

    private static func result(
        data: Data?, response: URLResponse?, error: (any Error)?, ending: TencentTransportError?
    ) -> Result<(status: Int, body: Data), any Error> {
        if let error {
            return .failure(ending ?? map(error))
        }
        guard let http = response as? HTTPURLResponse else {
            return .failure(TencentTransportError.other("not an HTTP response"))
        }
        return .success((http.statusCode, data ?? Data()))
    }

    /// Only the error code is kept: URLError's own texts include the URL, and with it the UserSig.
    static func map(_ error: any Error) -> TencentTransportError {
        guard let urlError = error as? URLError else { return .other(String(describing: type(of: error))) }
        let detail = "URLError \(urlError.code.rawValue)"
        if urlError.code == .unknown, isTLSFailure(urlError) { return .tls(detail + " (certificate or handshake)") }
        switch urlError.code {
        case .timedOut: return .timedOut
        case .cancelled: return .cancelled
        case .cannotFindHost, .cannotConnectToHost, .dnsLookupFailed, .notConnectedToInternet,
             .internationalRoamingOff, .dataNotAllowed:
            return .cannotConnect(detail)
        case .networkConnectionLost, .badServerResponse, .zeroByteResource, .cannotParseResponse:
            return .connectionLost(detail)
        case .secureConnectionFailed, .serverCertificateHasBadDate, .serverCertificateUntrusted,
             .serverCertificateHasUnknownRoot, .serverCertificateNotYetValid,
             .clientCertificateRejected, .clientCertificateRequired:
            return .tls(detail)
        default: return .other(detail)
        }
    }

    /// FoundationNetworking on Linux turns every libcurl TLS failure (an
    /// untrusted issuer, a host name mismatch, a failed handshake) into
    /// `URLError.unknown`; only libcurl's message, kept as the localized
    /// description, tells them apart. libcurl's TLS messages start with "SSL"
    /// ("SSL certificate problem: …", "SSL: no alternative certificate subject
    /// name matches target host name …") or name OpenSSL ("OpenSSL SSL_connect: …").
    /// The message is only inspected, never kept: the caller gets the code.
    private static func isTLSFailure(_ error: URLError) -> Bool {
        let message = (error as NSError).localizedDescription
        return message.hasPrefix("SSL") || message.hasPrefix("OpenSSL") || message.contains("certificate")
    }
}

/// One in-flight call: remembers why it was ended early (deadline or
/// cancellation) so the completion handler reports that instead of "cancelled".
private final class Call: Sendable {
    private let state = Mutex<(task: URLSessionDataTask?, ending: TencentTransportError?)>((nil, nil))

    var ending: TencentTransportError? { state.withLock { $0.ending } }

    func start(_ task: URLSessionDataTask) {
        let endedEarly = state.withLock { state in
            state.task = task
            return state.ending != nil
        }
        task.resume()
        if endedEarly { task.cancel() }  // cancelled before the task existed
    }

    func end(_ reason: TencentTransportError) {
        let task = state.withLock { state -> URLSessionDataTask? in
            guard state.ending == nil else { return nil }
            state.ending = reason
            return state.task
        }
        task?.cancel()
    }
}

/// Refuses every redirect, so the 3xx itself is the answer. This is the
/// completion-handler form on purpose: on this toolchain the async form makes
/// the call hang.
private final class RedirectRefuser: NSObject, URLSessionTaskDelegate, Sendable {
    func urlSession(
        _ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
        newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
    ) {
        completionHandler(nil)
    }
}
