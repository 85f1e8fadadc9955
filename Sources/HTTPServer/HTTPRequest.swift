/// One parsed HTTP/1.1 request. The body is complete (Content-Length framed).
public struct HTTPRequest: Sendable {
    /// Upper-case method token, e.g. `GET`.
    public var method: String
    /// The raw request-target, e.g. `/accounts/abc?x=1`.
    public var target: String
    /// The percent-decoded path, without the query.
    public var path: String
    /// The decoded query items in order (`+` is a space; duplicates kept).
    public var query: [(name: String, value: String)]
    /// `HTTP/1.1` or `HTTP/1.0`.
    public var version: String
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Filled by the router: `{user_id}` in the pattern becomes `pathParameters["user_id"]`.
    public var pathParameters: [String: String] = [:]
    /// Filled by the router: the matched pattern, e.g. `/accounts/{user_id}` (for metrics labels).
    public var routePattern: String? = nil
    /// The peer address as text, e.g. `127.0.0.1:53211`, when known.
    public var remoteAddress: String? = nil

    public init(
        method: String, target: String, path: String, query: [(name: String, value: String)] = [],
        version: String = "HTTP/1.1", headers: HTTPHeaders = HTTPHeaders(), body: [UInt8] = []
    ) {
        self.method = method
        self.target = target
        self.path = path
        self.query = query
        self.version = version
        self.headers = headers
        self.body = body
    }

    /// The first value of a query parameter.
    public func queryValue(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }
}
