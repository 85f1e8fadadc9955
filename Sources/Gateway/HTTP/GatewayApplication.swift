import Foundation
import HTTPServer
import Logging
import PostgresClient

/// The application: routes, authentication, error mapping. Built the same way
/// by `serve` and by the tests.
public final class GatewayApplication: Sendable {
    public let configuration: GatewayConfiguration
    let pool: PostgresPool
    let logger: Logger
    let callers: CallerStore
    let audit: AuditLog
    let delivery: ImportDelivery
    let imports: ImportService
    let idempotency: IdempotencyStore
    public let metrics: GatewayMetrics

    /// Bodies of `POST /accounts` are small; the batch route allows more.
    static let maxAccountBodyBytes = 16 * 1024
    public static let maxBodyBytes = 2 * 1024 * 1024

    /// `limiterPool`: connections of their own for the central rate limit, so
    /// its round trips never queue behind request queries (default: `pool`).
    public init(configuration: GatewayConfiguration, pool: PostgresPool, upstream: AccountUpstream,
                logger: Logger, metrics: GatewayMetrics = GatewayMetrics(), limiterPool: PostgresPool? = nil,
                replicaID: String = GatewayApplication.defaultReplicaID()) {
        self.configuration = configuration
        self.metrics = metrics
        self.pool = pool
        self.logger = logger
        self.callers = CallerStore(pool: pool, cacheFor: configuration.authCacheDuration)
        self.audit = AuditLog(pool: pool, logger: logger, metrics: metrics)
        let signals = OutcomeSignals()
        let limitStore = PostgresRateLimitStore(pool: limiterPool ?? pool)
        var policy = DeliveryPolicy()
        policy.maxUnexplainedAttempts = configuration.maxUnexplainedAttempts
        self.delivery = ImportDelivery(
            pool: pool, upstream: upstream, policy: policy, signals: signals, owner: replicaID,
            metrics: metrics, logger: logger,
            importLimiter: RateLimiter(api: .accountImport, configuredRate: configuration.importRate,
                                       store: limitStore, metrics: metrics, logger: logger),
            batchLimiter: RateLimiter(api: .multiaccountImport, configuredRate: configuration.batchRate,
                                      store: limitStore, metrics: metrics, logger: logger, headroom: RateLimiter.batchHeadroom),
            breaker: UpstreamBreaker(pool: pool, metrics: metrics, logger: logger))
        self.idempotency = IdempotencyStore(pool: pool)
        self.imports = ImportService(pool: pool, delivery: delivery, signals: signals,
                                     wait: .milliseconds(configuration.waitMilliseconds),
                                     quota: BacklogQuota(perCaller: configuration.maxPendingPerCaller, total: configuration.maxPending,
                                                         drainRate: Double(configuration.importRate) * RateLimiter.headroom),
                                     logger: logger)
    }

    /// host:pid:random — unique per process, readable in `accounts.lease_owner`.
    public static func defaultReplicaID() -> String {
        let host = ProcessInfo.processInfo.hostName
        return "\(host):\(ProcessInfo.processInfo.processIdentifier):\(UInt32.random(in: 0...UInt32.max))"
    }

    /// The background worker that delivers due pending imports; runs until cancelled.
    public func runWorker() async {
        await ImportWorker(delivery: delivery, logger: logger).run()
    }

    /// Everything `serve` runs besides the HTTP server, until cancelled.
    public func runBackgroundTasks() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.runWorker() }
            group.addTask {
                await Maintenance(pool: self.pool, idempotency: self.idempotency, metrics: self.metrics,
                                  quota: self.imports.quota, logger: self.logger).run()
            }
        }
    }

    /// A new secret key was loaded: the breaker, if open, probes at once.
    public func upstreamConfigurationChanged() async {
        await delivery.breaker.probeSoon()
    }

    /// For shutdown, after the server stopped and the worker was cancelled:
    /// lets deliveries under way finish, then releases this replica's leases.
    public func drain(timeout: Duration) async {
        await delivery.drain(timeout: timeout)
    }

    /// The whole HTTP surface, for the server.
    public var handler: HTTPHandler {
        let router = makeRouter()
        return { [self] request in await self.respond(to: request, router: router) }
    }

    /// Errors the HTTP server produces itself (bad framing, limits), as problems.
    public static let serverErrorResponder: @Sendable (Int, String) -> HTTPResponse = { status, detail in
        let requestID = RequestContext.newRequestID()
        var response = Problem(
            type: Problem.typeBase + "http-\(status)", title: HTTPStatus.reasonPhrase(status), status: status,
            detail: detail, requestID: requestID
        ).response()
        response.headers.set("X-Request-ID", requestID)
        return response
    }

    func makeRouter() -> Router {
        var router = Router(
            notFound: { request in
                GatewayError.notFound("No route for \(request.method) \(request.path).").response(requestID: RequestContext.current?.requestID ?? "")
            },
            methodNotAllowed: { _, allowed in
                GatewayError.methodNotAllowed(allowed: allowed).response(requestID: RequestContext.current?.requestID ?? "")
            })
        router.add("GET", "/", { [self] in await self.root($0) })
        router.add("GET", "/healthz", { _ in Self.json(200, ["status": "ok"]) })
        router.add("GET", "/readyz", { [self] in await self.readyz($0) })
        router.add("GET", "/metrics", { [self] _ in
            var headers = HTTPHeaders()
            headers.set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            return HTTPResponse(status: 200, headers: headers, body: self.metrics.render())
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

    typealias ProtectedHandler = @Sendable (HTTPRequest, RequestContext) async throws -> RouteResult

    /// What a protected handler answers, and what its audit event records.
    struct RouteResult: Sendable {
        var response: HTTPResponse
        var event: AuditEvent?
        /// The request changed stored state (e.g. an accepted import): its answer
        /// must go out even if its audit event cannot be written, since a 503
        /// would tell the caller nothing happened.
        var committed = false
    }

    /// Authenticates, checks the role, runs the handler, maps its errors, and
    /// writes the route's one audit event (or `auth.denied`).
    func protected(
        _ request: HTTPRequest, roles allowed: Set<Caller.Role>, action: AuditEvent.Action,
        _ handler: ProtectedHandler
    ) async -> HTTPResponse {
        var context = RequestContext.current ?? RequestContext(requestID: RequestContext.newRequestID(), logger: logger, started: .now)
        let requestID = context.requestID

        do {
            let caller = try await authenticate(request, allowed: allowed, context: context)
            context.caller = caller
            context.logger[metadataKey: "caller"] = "\(caller.name)"
        } catch let error as GatewayError {
            let event = AuditEvent(requestID: requestID, caller: nil, action: .authDenied,
                                   outcome: error.status == 401 ? .unauthenticated : .forbidden, httpStatus: error.status,
                                   latencyMilliseconds: context.elapsedMilliseconds)
            if error.status == 403 { context.caller = nil }
            return await finish(error.response(requestID: requestID), event: event, context: context)
        } catch {
            return mapUnexpected(error, context: context)
        }

        do {
            let result = try await handler(request, context)
            return await finish(result.response, event: result.event, context: context, committed: result.committed)
        } catch {
            let response = mapUnexpected(error, context: context)
            let event = AuditEvent(requestID: requestID, caller: context.caller?.name, action: action,
                                   userID: request.pathParameters["user_id"], outcome: Self.outcome(forStatus: response.status),
                                   httpStatus: response.status, latencyMilliseconds: context.elapsedMilliseconds,
                                   idempotencyKey: request.headers["Idempotency-Key"])
            return await finish(response, event: event, context: context)
        }
    }

    /// Writes the audit event before answering: no answer goes out without its
    /// record, except a committed change's (see `RouteResult.committed`).
    private func finish(_ response: HTTPResponse, event: AuditEvent?, context: RequestContext, committed: Bool = false) async -> HTTPResponse {
        guard var event else { return response }
        if event.latencyMilliseconds == nil { event.latencyMilliseconds = context.elapsedMilliseconds }
        // A database restart takes about a second: ride it out before giving up.
        var delay = Duration.milliseconds(100)
        for attempt in 1...5 {
            do {
                try await audit.append(event)
                if event.action == .accountImport { metrics.importOutcome(event.outcome.rawValue) }
                return response
            } catch {
                if attempt == 5 || !Self.isTransientDatabaseError(error) {
                    metrics.auditWriteFailure(action: event.action.rawValue)
                    if committed {
                        context.logger.error("audit event lost: the change is committed, so it is answered anyway", metadata: [
                            "audit.action": "\(event.action.rawValue)", "http.status": "\(response.status)",
                        ].adding(error))
                        return response
                    }
                    context.logger.error("audit event could not be written; answering 503", metadata: [
                        "audit.action": "\(event.action.rawValue)",
                    ].adding(error))
                    return mapUnexpected(error, context: context)
                }
                try? await Task.sleep(for: delay)
                delay *= 2
            }
        }
        return response
    }

    static func isTransientDatabaseError(_ error: Error) -> Bool {
        guard let error = error as? PostgresError else { return false }
        return error.isConnectionProblem || error.kind == .poolTimeout
    }

    /// Methods as metric labels: the known ones, else OTHER (a label per junk method would grow without bound).
    static func methodLabel(_ method: String) -> String {
        ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"].contains(method) ? method : "OTHER"
    }

    static func outcome(forStatus status: Int) -> AuditEvent.Outcome {
        switch status {
        case 400: .invalid
        case 401: .unauthenticated
        case 403: .forbidden
        case 404: .notFound
        case 409: .conflict
        case 413: .tooLarge
        case 415: .unsupportedMediaType
        case 422: .rejected
        case 429: .throttled
        case 503: .unavailable
        case 500...: .error
        default: .ok
        }
    }

    private func authenticate(_ request: HTTPRequest, allowed: Set<Caller.Role>, context: RequestContext) async throws -> Caller {
        let header = request.headers["Authorization"] ?? ""
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw GatewayError.unauthenticated("Send Authorization: Bearer <token>.")
        }
        guard let caller = try await callers.authenticate(token: parts[1].trimmingHTTPWhitespace()) else {
            throw GatewayError.unauthenticated("The token is unknown or revoked.")
        }
        guard !caller.roles.isDisjoint(with: allowed) else {
            throw GatewayError.forbidden("Caller '\(caller.name)' lacks the role for this route (needs \(allowed.sorted().map(\.rawValue).joined(separator: " or "))).")
        }
        return caller
    }

    /// The one place errors become responses: known errors keep their status,
    /// database outages become 503, anything else a generic 500 that is logged.
    func mapUnexpected(_ error: Error, context: RequestContext) -> HTTPResponse {
        switch error {
        case let error as GatewayError:
            return error.response(requestID: context.requestID)
        case let error as QuotaExceeded:
            return GatewayError.tooManyRequests(error.message, retryAfterSeconds: error.retryAfterSeconds).response(requestID: context.requestID)
        case let error as AccountConflict:
            return GatewayError.conflict(error.message).response(requestID: context.requestID)
        case let error as PostgresError where error.isConnectionProblem || error.kind == .poolTimeout || error.kind == .poolClosed:
            context.logger.warning("database unavailable", metadata: .error(error))
            return GatewayError.databaseUnavailable.response(requestID: context.requestID)
        default:
            context.logger.error("unexpected error", metadata: .error(error))
            return GatewayError.internalError.response(requestID: context.requestID)
        }
    }

    static func json(_ status: Int, _ value: some Encodable, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = headers
        headers.set("Content-Type", "application/json; charset=utf-8")
        return HTTPResponse(status: status, headers: headers, body: JSON.encode(value))
    }
}
