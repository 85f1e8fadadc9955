import Foundation
extension HTTPServer {
    /// Builds the responses the server produces itself (400, 408, 413, 414,
    /// 431, 501, 503, 505) from the refusal: its status, a human-readable
    /// detail, and the request's head when it was read that far.
    public typealias ErrorResponder = @Sendable (_ refusal: HTTPParseError) -> HTTPResponse

    public struct Configuration: Sendable {
        /// Where to listen; port 0 picks a free port (see `start()`'s result).
        public var address: ListenAddress
        /// Pending-connection queue length passed to listen(2).
        public var backlog: Int32
        /// Longest request line (→ 414).
        public var maxRequestLineLength: Int
        /// Largest header section after the request line (→ 431).
        public var maxHeaderBytes: Int
        /// Most header fields in one request (→ 431).
        public var maxHeaderCount: Int
        /// Largest request body, framed by length or chunked (→ 413).
        public var maxBodyBytes: Int
        /// From a request's first byte (or accept) to the end of its head (→ 408, close).
        public var headerReadTimeout: Duration
        /// From the end of the head to the end of the body (→ 408, close).
        public var bodyReadTimeout: Duration
        /// How long a keep-alive connection may sit between requests (closed silently).
        public var idleTimeout: Duration
        /// How long writing one response may take before the connection is dropped.
        public var writeTimeout: Duration
        /// Open connections at most. At the cap the connection idle the longest
        /// is closed to admit a new one; with none idle, a new connection is
        /// answered 503 with `Connection: close` and closed, so a client (or a
        /// load balancer) learns at once instead of waiting in the listen backlog.
        public var maxConnections: Int
        /// Open connections from one client address at most, so one client
        /// cannot hold every connection: at it, that client's connection idle
        /// the longest is closed for the new one; with none idle, 503.
        public var maxConnectionsPerClient: Int
        /// After the server decides to close (an error, `Connection: close`),
        /// it stops writing and reads what the client still sends for at most
        /// this long, so closing does not reset the response before the
        /// client has read it.
        public var lingerTimeout: Duration
        public var errorResponder: ErrorResponder
        /// Event loop threads; connections are spread over them in turn, and
        /// each runs its connections' tasks, handlers included. Default: half
        /// the processors, at least one. The other half is left to what the
        /// handlers wait on (PostgreSQL client threads, TLS to the upstream, a
        /// co-located database) and to the clients: on this 2-core machine a
        /// second loop raised `GET /healthz` throughput by a third but its p99
        /// twenty-fold, as busy loop threads crowd out everything else
        /// (Benchmarks/healthz_bench.py; docs/ARCHITECTURE.md, The HTTP server).
        public var eventLoops = max(1, ProcessInfo.processInfo.activeProcessorCount / 2)

        public init(
            address: ListenAddress = ListenAddress(host: "127.0.0.1", port: 8080),
            backlog: Int32 = 512,
            maxRequestLineLength: Int = 8 * 1024,
            maxHeaderBytes: Int = 32 * 1024,
            maxHeaderCount: Int = 100,
            maxBodyBytes: Int = 1024 * 1024,
            headerReadTimeout: Duration = .seconds(10),
            bodyReadTimeout: Duration = .seconds(30),
            idleTimeout: Duration = .seconds(60),
            writeTimeout: Duration = .seconds(30),
            maxConnections: Int = 1024,
            maxConnectionsPerClient: Int = 512,
            lingerTimeout: Duration = .seconds(2),
            errorResponder: @escaping ErrorResponder = { HTTPServer.problemResponse(status: $0.status, detail: $0.detail) }
        ) {
            self.address = address
            self.backlog = backlog
            self.maxRequestLineLength = maxRequestLineLength
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxBodyBytes = maxBodyBytes
            self.headerReadTimeout = headerReadTimeout
            self.bodyReadTimeout = bodyReadTimeout
            self.idleTimeout = idleTimeout
            self.writeTimeout = writeTimeout
            self.maxConnections = maxConnections
            self.maxConnectionsPerClient = maxConnectionsPerClient
            self.lingerTimeout = lingerTimeout
            self.errorResponder = errorResponder
        }

        var parserLimits: HTTPRequestParser.Limits {
            HTTPRequestParser.Limits(
                maxRequestLineLength: maxRequestLineLength, maxHeaderBytes: maxHeaderBytes,
                maxHeaderCount: maxHeaderCount, maxBodyBytes: maxBodyBytes)
        }
    }
}
