/// A complete response. The server adds `Content-Length`, `Date` and
/// `Connection` itself; handlers set everything else.
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// When set, the server closes the connection without sending anything:
    /// a peer that vanishes mid-request, for fault injection (the sandbox).
    public var abortsConnection = false

    public init(status: Int, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A response that is never sent: the connection is closed instead.
    public static var abortedConnection: HTTPResponse {
        var response = HTTPResponse(status: 0)
        response.abortsConnection = true
        return response
    }
}

/// The application: one function from request to response. It never throws;
/// mapping errors to responses is the application's job, done once at its edge.
public typealias HTTPHandler = @Sendable (HTTPRequest) async -> HTTPResponse
