import Foundation
import HTTPServer
import Logging
import PostgresClient

/// The application: wiring the domain together, and what `serve` runs besides
/// the server (routes: `+Routing`, protection and error mapping: `+Protection`). Built the same way
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
    /// Refused requests, counted per source and minute (`deny`).
    let denials = DenialLedger()
    /// `GET /audit` queries running at once, per caller.
    let auditQueries = PerCallerLimit(limit: 2)
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
            store: PostgresLeaseStore(pool: pool), upstream: upstream, policy: policy, signals: signals, owner: replicaID,
            metrics: metrics, logger: logger,
            importLimiter: RateLimiter(api: .accountImport, configuredRate: configuration.importRate,
                                       store: limitStore, metrics: metrics, logger: logger),
            batchLimiter: RateLimiter(api: .multiaccountImport, configuredRate: configuration.batchRate,
                                      store: limitStore, metrics: metrics, logger: logger, headroom: RateLimiter.batchHeadroom),
            breaker: UpstreamBreaker(store: PostgresBreakerStore(pool: pool), metrics: metrics, logger: logger))
        self.idempotency = IdempotencyStore(pool: pool)
        self.imports = ImportService(pool: pool, delivery: delivery, wait: .milliseconds(configuration.waitMilliseconds),
                                     quota: BacklogQuota(perCaller: configuration.maxPendingPerCaller, total: configuration.maxPending,
                                                         drainRate: Double(configuration.importRate) * RateLimiter.headroom),
                                     logger: logger, repeats: RepeatLookup(pool: pool, logger: logger),
                                     intents: IntentWriter(pool: pool, logger: logger))
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
            group.addTask {
                while (try? await Task.sleep(for: .seconds(5))) != nil {
                    await self.auditDenialCounts()
                }
            }
            group.addTask {
                await self.delivery.signals.watch(every: Self.outcomeWatchInterval, resolved: { [pool = self.pool] userIDs in
                    try await AccountStore.resolved(userIDs, on: pool)
                }, onError: { [logger = self.logger] error in
                    logger.warning("cannot look for outcomes other replicas recorded", metadata: .error(error))
                })
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
        // Every denial accounted for: the counts of windows still open are audited now.
        await auditDenialCounts(all: true)
    }

    /// How soon a waiting request learns of an outcome another replica recorded.
    static let outcomeWatchInterval: Duration = .milliseconds(10)

    /// The whole HTTP surface, for the server.
    public var handler: HTTPHandler {
        let router = makeRouter()
        return { [self] request in await self.respond(to: request, router: router) }
    }

    /// Refusals the HTTP server makes itself (bad framing, limits, timeouts),
    /// as problems. Like an answer of the edge, each carries the caller's
    /// `X-Request-ID` when the head was read that far, is counted in
    /// `gateway_http_requests_total` (by route pattern when the target was
    /// read, else `unmatched`; method `OTHER` when not even the request line
    /// was) and logged. No duration is observed: the server, not a handler,
    /// timed these. Not audited: no route ran, so no caller was authenticated.
    public var serverErrorResponder: HTTPServer.ErrorResponder {
        let router = makeRouter()
        return { [self] refusal in serverErrorResponse(refusal, router: router) }
    }

    func serverErrorResponse(_ refusal: HTTPParseError, router: Router) -> HTTPResponse {
        let status = refusal.status
        let requestID = RequestContext.requestID(from: refusal.head?.headers["X-Request-ID"])
        var response = Problem(
            type: Problem.typeBase + "http-\(status)", title: HTTPStatus.reasonPhrase(status), status: status,
            detail: refusal.detail, requestID: requestID
        ).response()
        response.headers.set("X-Request-ID", requestID)
        var route = "unmatched"
        if let head = refusal.head, case .found(_, _, let pattern) = router.match(method: head.method, path: head.rawPath) {
            route = pattern
        }
        let method = refusal.head.map { Self.methodLabel($0.method) } ?? "OTHER"
        metrics.countHTTPRequest(route: route, method: method, status: status)
        logger.info("request refused by the HTTP server", metadata: [
            "request_id": "\(requestID)", "http.method": "\(refusal.head?.method ?? "-")", "http.route": "\(route)",
            "http.status": "\(status)", "http.error": "\(refusal.detail)",
        ])
        return response
    }

    static func json(_ status: Int, _ value: some Encodable, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        json(status, body: JSON.encode(value), headers: headers)
    }

    static func json(_ status: Int, _ value: some JSONWritable, headers: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        json(status, body: JSON.encode(value), headers: headers)
    }

    private static func json(_ status: Int, body: [UInt8], headers: HTTPHeaders) -> HTTPResponse {
        var headers = headers
        headers.set("Content-Type", "application/json; charset=utf-8")
        return HTTPResponse(status: status, headers: headers, body: body)
    }
}
