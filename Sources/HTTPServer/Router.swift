/// Maps method + path to handlers. Patterns are `/`-separated segments,
/// each a literal or a `{name}` parameter (`/accounts/{user_id}`). Where
/// several patterns match a path, the one whose first differing segment is
/// a literal wins (`/accounts/batch` beats `/accounts/{user_id}`); the
/// method is checked against that pattern only, giving 405 with `Allow`.
/// A HEAD request falls back to the GET handler (the server drops the body).
public struct Router: Sendable {
    public enum Match: Sendable {
        case found(HTTPHandler, parameters: [String: String], pattern: String)
        case methodNotAllowed(allowed: [String])
        case notFound
    }

    public typealias NotFoundResponder = @Sendable (_ request: HTTPRequest) -> HTTPResponse
    public typealias MethodNotAllowedResponder = @Sendable (_ request: HTTPRequest, _ allowed: [String]) -> HTTPResponse

    private enum Segment: Equatable {
        case literal(String)
        case parameter(String)
    }

    private struct Route {
        let pattern: String
        let segments: [Segment]
        var handlers: [(method: String, handler: HTTPHandler)]
    }

    private var routes: [Route] = []
    /// The routes without parameters, by pattern: a path equal to one of them
    /// needs no decoding or ranking (all literal, it outranks any other match).
    private var literalRoutes: [String: Int] = [:]
    public var notFoundResponder: NotFoundResponder
    /// Its response gets an `Allow` header listing the allowed methods.
    public var methodNotAllowedResponder: MethodNotAllowedResponder

    public init(
        notFound: @escaping NotFoundResponder = { request in
            HTTPServer.problemResponse(status: 404, detail: "no route for \(request.method) \(request.path)")
        },
        methodNotAllowed: @escaping MethodNotAllowedResponder = { request, allowed in
            HTTPServer.problemResponse(
                status: 405, detail: "\(request.method) is not allowed here; allowed: \(allowed.joined(separator: ", "))")
        }
    ) {
        self.notFoundResponder = notFound
        self.methodNotAllowedResponder = methodNotAllowed
    }

    /// Adds a route. A malformed pattern or a duplicate route is a
    /// programming error and traps at startup.
    public mutating func add(_ method: String, _ pattern: String, _ handler: @escaping HTTPHandler) {
        let segments = Self.parse(pattern)
        if let index = routes.firstIndex(where: { Self.shape($0.segments) == Self.shape(segments) }) {
            precondition(routes[index].segments == segments, "route \(pattern) conflicts with \(routes[index].pattern)")
            precondition(!routes[index].handlers.contains { $0.method == method }, "duplicate route \(method) \(pattern)")
            routes[index].handlers.append((method, handler))
        } else {
            routes.append(Route(pattern: pattern, segments: segments, handlers: [(method, handler)]))
            if !segments.contains(where: { if case .parameter = $0 { true } else { false } }) {
                literalRoutes[pattern] = routes.count - 1
            }
        }
    }

    /// Matches a path as sent (`request.rawPath`: percent-encoded, without
    /// the query); each segment is decoded before comparison and in parameter
    /// values, so `/accounts/a%2Fb` gives `user_id` = `a/b`. A segment that is
    /// not valid percent-encoding is taken literally, so an already-decoded
    /// path still matches as long as no segment held an encoded `/`.
    public func match(method: String, path: String) -> Match {
        if let index = literalRoutes[path] { return Self.choose(method, in: routes[index], parameters: [:]) }
        guard path.hasPrefix("/") else { return .notFound }
        let decoded = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { segment in
            PercentDecoding.decode(segment.utf8) ?? String(segment)
        }

        var best: (route: Route, parameters: [String: String], rank: [Bool])?
        for route in routes where route.segments.count == decoded.count {
            guard let parameters = Self.bind(route.segments, to: decoded) else { continue }
            let rank = route.segments.map { if case .literal = $0 { true } else { false } }
            if best.map({ Self.outranks(rank, $0.rank) }) ?? true {
                best = (route, parameters, rank)
            }
        }
        guard let (route, parameters, _) = best else { return .notFound }
        return Self.choose(method, in: route, parameters: parameters)
    }

    /// The route's handler for `method` (HEAD falling back to GET), or 405.
    private static func choose(_ method: String, in route: Route, parameters: [String: String]) -> Match {
        if let handler = route.handlers.first(where: { $0.method == method })?.handler
            ?? (method == "HEAD" ? route.handlers.first(where: { $0.method == "GET" })?.handler : nil) {
            return .found(handler, parameters: parameters, pattern: route.pattern)
        }
        var allowed = route.handlers.map(\.method)
        if allowed.contains("GET") && !allowed.contains("HEAD") { allowed.append("HEAD") }
        return .methodNotAllowed(allowed: allowed)
    }

    /// Routes the request: fills `pathParameters` and `routePattern` and
    /// calls the handler, or answers 404 / 405 (+ `Allow`).
    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        await route(request).response
    }

    /// `handle`, also telling which pattern answered (nil for 404 and 405), for metrics and logs.
    public func route(_ request: HTTPRequest) async -> (response: HTTPResponse, pattern: String?) {
        if request.target == "*" {
            // `OPTIONS *` (the parser admits the asterisk-form for OPTIONS only): the server as a whole.
            var methods = Set(routes.flatMap { $0.handlers.map(\.method) })
            if methods.contains("GET") { methods.insert("HEAD") }
            var response = HTTPResponse(status: 204)
            response.headers.set("Allow", (methods.sorted() + (methods.contains("OPTIONS") ? [] : ["OPTIONS"])).joined(separator: ", "))
            return (response, "*")
        }
        switch match(method: request.method, path: request.rawPath) {
        case let .found(handler, parameters, pattern):
            var request = request
            request.pathParameters = parameters
            request.routePattern = pattern
            return (await handler(request), pattern)
        case let .methodNotAllowed(allowed):
            var response = methodNotAllowedResponder(request, allowed)
            response.headers.set("Allow", allowed.joined(separator: ", "))
            return (response, nil)
        case .notFound:
            return (notFoundResponder(request), nil)
        }
    }

    /// The router as the server's handler.
    public var handler: HTTPHandler {
        { [self] request in await self.handle(request) }
    }

    // MARK: - Patterns

    private static func parse(_ pattern: String) -> [Segment] {
        precondition(pattern.hasPrefix("/"), "route pattern must start with '/': \(pattern)")
        var names: Set<String> = []
        return pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map { segment in
            if segment.hasPrefix("{") && segment.hasSuffix("}") && segment.count > 2 {
                let name = String(segment.dropFirst().dropLast())
                precondition(!name.contains("{") && !name.contains("}"), "malformed parameter in \(pattern)")
                precondition(names.insert(name).inserted, "parameter {\(name)} appears twice in \(pattern)")
                return .parameter(name)
            }
            precondition(!segment.contains("{") && !segment.contains("}"), "malformed parameter in \(pattern)")
            return .literal(String(segment))
        }
    }

    /// Literal positions with their text; parameters as placeholders. Two
    /// patterns of one shape match exactly the same paths.
    private static func shape(_ segments: [Segment]) -> [String?] {
        segments.map { if case let .literal(text) = $0 { text } else { nil } }
    }

    private static func bind(_ segments: [Segment], to path: [String]) -> [String: String]? {
        var parameters: [String: String] = [:]
        for (segment, value) in zip(segments, path) {
            switch segment {
            case let .literal(text): guard text == value else { return nil }
            case let .parameter(name):
                guard !value.isEmpty else { return nil }
                parameters[name] = value
            }
        }
        return parameters
    }

    /// Whether the first segment where the ranks differ is a literal in `rank`.
    private static func outranks(_ rank: [Bool], _ other: [Bool]) -> Bool {
        for (mine, theirs) in zip(rank, other) where mine != theirs { return mine }
        return false
    }
}
