import Testing

@testable import HTTPServer

@Suite("Router")
struct RouterTests {
    private func request(_ method: String, _ target: String) -> HTTPRequest {
        let path = String(target.prefix { $0 != "?" })
        return HTTPRequest(method: method, target: target, path: PercentDecoding.decode(path.utf8) ?? path)
    }

    /// Echoes which route answered and what it was given.
    private func echo(_ name: String) -> HTTPHandler {
        { request in
            let parameters = request.pathParameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
            let text = ([name, request.routePattern ?? "-"] + parameters).joined(separator: " ")
            return HTTPResponse(status: 200, body: Array(text.utf8))
        }
    }

    private func makeRouter() -> Router {
        var router = Router()
        router.add("GET", "/accounts/{user_id}", echo("get-account"))
        router.add("DELETE", "/accounts/{user_id}", echo("delete-account"))
        router.add("POST", "/accounts/batch", echo("batch"))
        router.add("GET", "/accounts", echo("list"))
        router.add("GET", "/accounts/{user_id}/keys/{key_id}", echo("key"))
        router.add("GET", "/", echo("root"))
        return router
    }

    private func body(_ response: HTTPResponse) -> String { String(decoding: response.body, as: UTF8.self) }

    @Test func fillsPercentDecodedParametersAndPattern() async {
        let router = makeRouter()
        let response = await router.handle(request("GET", "/accounts/a%2Fb%20c?x=1"))
        #expect(response.status == 200)
        #expect(body(response) == "get-account /accounts/{user_id} user_id=a/b c")
        let nested = await router.handle(request("GET", "/accounts/u1/keys/k%C3%A9"))
        #expect(body(nested) == "key /accounts/{user_id}/keys/{key_id} key_id=ké user_id=u1")
        #expect(body(await router.handle(request("GET", "/"))) == "root /")
    }

    @Test func literalSegmentsBeatParameters() async {
        var router = makeRouter()
        #expect(body(await router.handle(request("POST", "/accounts/batch"))) == "batch /accounts/batch")
        // The literal pattern is chosen first, so GET on it is 405, not {user_id}=batch.
        let response = await router.handle(request("GET", "/accounts/batch"))
        #expect(response.status == 405)
        #expect(response.headers["Allow"] == "POST")
        // Regardless of the order routes were added in.
        router = Router()
        router.add("GET", "/{a}/y", echo("param-first"))
        router.add("GET", "/x/{b}", echo("literal-first"))
        #expect(body(await router.handle(request("GET", "/x/y"))) == "literal-first /x/{b} b=y")
    }

    @Test func unknownPathIs404() async {
        let router = makeRouter()
        for target in ["/nope", "/accounts/u1/extra", "/accounts/", "accounts"] {
            let response = await router.handle(request("GET", target))
            #expect(response.status == 404, "\(target)")
        }
        let response = await router.handle(request("GET", "/nope"))
        #expect(response.headers["Content-Type"] == "application/problem+json")
    }

    @Test func wrongMethodIs405WithAllow() async {
        let router = makeRouter()
        let response = await router.handle(request("PUT", "/accounts/u1"))
        #expect(response.status == 405)
        #expect(response.headers["Allow"] == "GET, DELETE, HEAD")
        if case let .methodNotAllowed(allowed) = router.match(method: "PATCH", path: "/accounts") {
            #expect(allowed == ["GET", "HEAD"])
        } else {
            Issue.record("expected 405")
        }
    }

    @Test func rawPathKeepsEncodingAndDropsQuery() {
        let request = HTTPRequest(method: "GET", target: "/a%2Fb/c?x=1", path: "/a/b/c")
        #expect(request.rawPath == "/a%2Fb/c")
        #expect(HTTPRequest(method: "GET", target: "", path: "/p").rawPath == "/p")
        #expect(HTTPRequest(method: "GET", target: "/caf\u{00E9}/x", path: "/x").rawPath == "/caf\u{00E9}/x")
        #expect(HTTPRequest(method: "GET", target: "/a?", path: "/a").rawPath == "/a")
        #expect(HTTPRequest(method: "GET", target: "/?a?b", path: "/").rawPath == "/")
        #expect(HTTPRequest(method: "OPTIONS", target: "*", path: "*").rawPath == "*")
        #expect(HTTPStatus.reason(404) == "Not Found")
    }

    @Test func headFallsBackToGet() async {
        let router = makeRouter()
        #expect(body(await router.handle(request("HEAD", "/accounts"))) == "list /accounts")
    }

    @Test func respondersAreConfigurable() async {
        var router = Router(
            notFound: { _ in HTTPResponse(status: 404, body: Array("custom 404".utf8)) },
            methodNotAllowed: { _, allowed in HTTPResponse(status: 405, body: Array("only \(allowed.count)".utf8)) })
        router.add("GET", "/x", echo("x"))
        #expect(body(await router.handle(request("GET", "/y"))) == "custom 404")
        let response = await router.handle(request("POST", "/x"))
        #expect(body(response) == "only 2")
        #expect(response.headers["Allow"] == "GET, HEAD")
    }

    @Test func matchReportsTheOutcome() {
        let router = makeRouter()
        guard case let .found(_, parameters, pattern) = router.match(method: "DELETE", path: "/accounts/42") else {
            Issue.record("expected a match")
            return
        }
        #expect(parameters == ["user_id": "42"])
        #expect(pattern == "/accounts/{user_id}")
        // Not valid percent-encoding: taken literally, so decoded paths match too.
        guard case let .found(_, literal, _) = router.match(method: "GET", path: "/accounts/50%") else {
            Issue.record("expected a literal match")
            return
        }
        #expect(literal == ["user_id": "50%"])
    }
}
