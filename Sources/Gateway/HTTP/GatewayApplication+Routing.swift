import HTTPServer
import Logging

/// The edge: the routes, and what every request goes through once (request id, routing, metrics, access log).
extension GatewayApplication {
    func makeRouter() -> Router {
        var router = Router(
            notFound: { request in
                GatewayError.notFound("No route for \(request.method) \(request.path).").response(requestID: RequestContext.current?.requestID ?? "")
            },
            methodNotAllowed: { _, allowed in
                GatewayError.methodNotAllowed(allowed: allowed).response(requestID: RequestContext.current?.requestID ?? "")
            })
        router.add("GET", "/", { [self] in await self.root($0) })
        let healthy = Self.json(200, ["status": "ok"])  // the same every time: encoded once
        router.add("GET", "/healthz", { _ in healthy })
        router.add("GET", "/readyz", { [self] in await self.readyz($0) })
        router.add("GET", "/status", { [self] in await self.status($0) })
        router.add("GET", "/metrics", { [self] _ in
            var headers = HTTPHeaders()
            headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            return HTTPResponse(status: 200, headers: headers, body: self.metrics.render())
        })
        let openAPI = Array(OpenAPIDocument.yaml.utf8)
        router.add("GET", "/openapi.yaml", { _ in
            var headers = HTTPHeaders()
            headers.set("Content-Type", "application/yaml")
            return HTTPResponse(status: 200, headers: headers, body: openAPI)
        })
        router.add("POST", "/accounts", { [self] in await self.protected($0, roles: [.importer], action: .accountImport, self.postAccount) })
        router.add("GET", "/accounts/{user_id}", { [self] in
            await self.protected($0, roles: [.importer, .auditor], action: .accountLookup, self.getAccount)
        })
        // `batch` is a valid user_id too: the literal route must not hide its lookup.
        router.add("GET", "/accounts/batch", { [self] request in
            var request = request
            request.pathParameters["user_id"] = "batch"
            return await self.protected(request, roles: [.importer, .auditor], action: .accountLookup, self.getAccount)
        })
        router.add("POST", "/accounts/batch", { [self] in
            await self.protected($0, roles: [.importer], action: .accountBatchImport, self.postBatch)
        })
        router.add("GET", "/audit", { [self] in await self.protected($0, roles: [.auditor], action: .auditQuery, self.getAudit) })
        return router
    }

    /// The edge: request id, routing, error mapping, access log — once, here.
    func respond(to request: HTTPRequest, router: Router) async -> HTTPResponse {
        let requestID = RequestContext.requestID(from: request.headers["X-Request-ID"])
        let started = ContinuousClock.now
        let context = RequestContext(requestID: requestID, logger: logger, started: started)

        var (response, pattern) = await RequestContext.$current.withValue(context) { await router.route(request) }
        response.headers.set("X-Request-ID", requestID)
        let duration = ContinuousClock.now - started
        metrics.httpRequest(route: pattern ?? "unmatched", method: Self.methodLabel(request.method),
                            status: response.status, duration: duration)

        let level: Logger.Level = response.status >= 500 ? .error : (request.path == "/healthz" || request.path == "/readyz" ? .debug : .info)
        logger.log(level: level, "request", metadata: [
            "request_id": "\(requestID)", "http.method": "\(request.method)",
            "http.route": "\(pattern ?? "unmatched")", "http.status": "\(response.status)",
            "http.duration_ms": "\(duration.milliseconds)",
        ])
        return response
    }

    /// Methods as metric labels: the known ones, else OTHER (a label per junk method would grow without bound).
    static func methodLabel(_ method: String) -> String {
        ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].contains(method) ? method : "OTHER"
    }
}
