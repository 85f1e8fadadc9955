import Foundation
import Prometheus
import Synchronization

/// What ops dashboards watch (CONTRACT.md's list), on a registry of our own:
/// `main` and tests each make one; nothing global is bootstrapped.
/// Labels carry route patterns and codes, never raw paths, IDs or secrets.
public final class GatewayMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    static let latencyBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]
    static let waitBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(3), .seconds(5), .seconds(10),
    ]

    private let pending: Gauge
    private let pendingOldest: Gauge
    private let misconfigured: Gauge
    /// For `GET /status`: this replica's imports by outcome and upstream calls by
    /// API and code, per minute for the last hour and in total.
    let recentImports = RecentCounts<String>()
    let recentUpstream = RecentCounts<UpstreamAnswer>()
    /// When this replica started, for its uptime.
    let started = Date()
    /// The backlog as `Maintenance` last counted it (all replicas), and the age of its oldest account.
    let backlog = Mutex<(pending: Int, oldestSeconds: Double)>((0, 0))
    /// The metrics every request touches, by label values: the registry builds
    /// and checks a name and help text on each `make…`, a lookup here does not.
    private let requestCounters = Handles<HTTPRequestLabels, Counter>()
    private let requestDurations = Handles<String, DurationHistogram>()
    private let importCounters = Handles<String, Counter>()
    private let auditCounters = Handles<String, Counter>()

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        pending = registry.makeGauge(descriptor: Self.name("pending_imports", "", "Accounts accepted but not yet confirmed by Tencent."))
        pendingOldest = registry.makeGauge(descriptor: Self.name(
            "pending_oldest", "seconds", "Age of the oldest pending account: how long since it became pending (all replicas)."))
        misconfigured = registry.makeGauge(descriptor: Self.name(
            "upstream_misconfigured", "", "1 while the upstream circuit breaker is open after a misconfiguration answer (key, app, region, admin, base URL): operators must act."))
        registry.makeGauge(descriptor: Self.name("build_info", "", "1, labelled with this build's version."),
                           labels: [("version", GatewayVersion.current)]).set(to: 1)
        registry.makeGauge(descriptor: Self.name("start_time", "seconds", "When this replica started, in seconds since 1970."))
            .set(to: started.timeIntervalSince1970)
        exposeAlertedSeriesAtZero()
    }

    /// The counters alerts watch exist from the start at 0, so `increase()` sees
    /// their first event and the dashboard and rules find every name they use.
    private func exposeAlertedSeriesAtZero() {
        for action in AuditEvent.Action.allCases {
            _ = registry.makeCounter(
                descriptor: Self.name("audit_write_failures", "total", "Audit events that could not be written, by action."),
                labels: [("action", action.rawValue)])
        }
        for reason in [RetryReason.misconfiguration, .lockout, .gatewayBug] {
            _ = registry.makeCounter(
                descriptor: Self.name("upstream_alerts", "total", "Upstream answers that need an operator, by reason."),
                labels: [("reason", reason.rawValue)])
        }
        for status in [401, 403] {
            _ = registry.makeCounter(
                descriptor: Self.name("auth_denials", "total", "Requests refused for their token (401) or role (403), by status."),
                labels: [("status", String(status))])
        }
        for api in [UpstreamReply.API.accountImport, .multiaccountImport, .accountCheck] {
            _ = registry.makeCounter(
                descriptor: Self.name("upstream_requests", "total", "Calls to Tencent by API and ErrorCode (0 = success, 'transport' = no answer)."),
                labels: [("api", api.rawValue), ("error_code", "0")])
            _ = registry.makeDurationHistogram(
                descriptor: Self.name("upstream_duration", "seconds", "Duration of calls to Tencent by API."),
                labels: [("api", api.rawValue)], buckets: Self.latencyBuckets)
        }
        setAuditVerification(at: nil, intact: true)
    }

    private static func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "gateway", metricName: metric, unitName: unit, helpText: help)
    }

    /// Counts a request (`httpRequest` also times it); alone, for one the HTTP
    /// server refused before any handler ran, which is not timed.
    func countHTTPRequest(route: String, method: String, status: Int) {
        requestCounters.get(HTTPRequestLabels(route: route, method: method, status: status)) {
            registry.makeCounter(
                descriptor: Self.name("http_requests", "total", "HTTP requests by route pattern, method and status."),
                labels: [("route", route), ("method", method), ("status", String(status))])
        }.increment()
    }

    func httpRequest(route: String, method: String, status: Int, duration: Duration) {
        countHTTPRequest(route: route, method: method, status: status)
        requestDurations.get(route) {
            registry.makeDurationHistogram(
                descriptor: Self.name("http_request_duration", "seconds", "HTTP request duration by route pattern."),
                labels: [("route", route)], buckets: Self.latencyBuckets)
        }.record(duration)
    }

    func importOutcome(_ outcome: String) {
        recentImports.add(outcome)
        importCounters.get(outcome) {
            registry.makeCounter(
                descriptor: Self.name("imports", "total", "POST /accounts answers by outcome (imported, already_imported, updated, pending, rejected, ...)."),
                labels: [("outcome", outcome)])
        }.increment()
    }

    func upstreamCall(api: String, errorCode: String, duration: Duration) {
        recentUpstream.add(UpstreamAnswer(api: api, code: errorCode))
        registry.makeCounter(
            descriptor: Self.name("upstream_requests", "total", "Calls to Tencent by API and ErrorCode (0 = success, 'transport' = no answer)."),
            labels: [("api", api), ("error_code", errorCode)]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: Self.name("upstream_duration", "seconds", "Duration of calls to Tencent by API."),
            labels: [("api", api)], buckets: Self.latencyBuckets
        ).record(duration)
    }

    /// Raised when retrying cannot help (misconfiguration, 70050 lockout, 60002/60003).
    func upstreamAlert(reason: String) {
        registry.makeCounter(
            descriptor: Self.name("upstream_alerts", "total", "Upstream answers that need an operator, by reason."),
            labels: [("reason", reason)]
        ).increment()
    }

    /// An account ended `failed` after its bounded unexplained answers (undocumented codes, FailAccounts without a reason).
    func upstreamUnexplainedFailure(code: Int?) {
        registry.makeCounter(
            descriptor: Self.name("upstream_unexplained_failures", "total",
                                  "Accounts that ended failed after repeated undocumented answers, by the last code ('none': FailAccounts without a reason)."),
            labels: [("code", code.map(String.init) ?? "none")]
        ).increment()
    }

    /// The latest `audit verify` run (`audit_verifications`), as Maintenance reads it.
    func setAuditVerification(at: Date?, intact: Bool) {
        registry.makeGauge(descriptor: Self.name("audit_verify_last_run", "timestamp_seconds",
                                                 "When `audit verify` last ran (0: never), any replica's database."))
            .set(to: at?.timeIntervalSince1970 ?? 0)
        registry.makeGauge(descriptor: Self.name("audit_verify_intact", "", "1 if the last `audit verify` found the trail intact (also 1 before any run), 0 if broken."))
            .set(to: intact ? 1 : 0)
    }

    /// 1 while `/readyz` answers 200, 0 while it answers 503 (as of its last call).
    func setReady(_ ready: Bool) {
        registry.makeGauge(descriptor: Self.name("ready", "", "1 while the last /readyz answered 200, 0 while it answered 503."))
            .set(to: ready ? 1 : 0)
    }

    func setMisconfigured(_ value: Bool) {
        misconfigured.set(to: value ? 1.0 : 0.0)
    }

    func rateLimitWait(_ duration: Duration, api: String) {
        registry.makeDurationHistogram(
            descriptor: Self.name("rate_limit_wait", "seconds", "Time spent waiting for the central rate limit before an upstream call."),
            labels: [("api", api)], buckets: Self.waitBuckets
        ).record(duration)
    }

    func setPendingImports(_ count: Int, oldestSeconds: Double = 0) {
        pending.set(to: Double(count))
        pendingOldest.set(to: oldestSeconds)
        backlog.withLock { $0 = (count, oldestSeconds) }
    }

    func auditEvent(action: String) {
        auditCounters.get(action) {
            registry.makeCounter(
                descriptor: Self.name("audit_events", "total", "Audit events written, by action."),
                labels: [("action", action)])
        }.increment()
    }

    /// Every refused request, audited on its own or counted into a later event (`DenialLedger`).
    func authDenial(status: Int) {
        registry.makeCounter(
            descriptor: Self.name("auth_denials", "total", "Requests refused for their token (401) or role (403), by status."),
            labels: [("status", String(status))]
        ).increment()
    }

    func auditWriteFailure(action: String) {
        registry.makeCounter(
            descriptor: Self.name("audit_write_failures", "total", "Audit events that could not be written, by action."),
            labels: [("action", action)]
        ).increment()
    }

    /// Prometheus text format 0.0.4.
    public func render() -> [UInt8] {
        registry.emitToBuffer()
    }
}

/// The labels of `gateway_http_requests_total`, as a key made without allocating.
private struct HTTPRequestLabels: Hashable, Sendable {
    let route: String
    let method: String
    let status: Int
}

/// Metric handles made once per label values. Label values come from closed
/// sets (route patterns, methods, statuses, outcomes, actions), so this stays small.
private final class Handles<Key: Hashable & Sendable, Metric: Sendable>: Sendable {
    private let made = Mutex<[Key: Metric]>([:])

    func get(_ key: Key, make: () -> Metric) -> Metric {
        if let metric = made.withLock({ $0[key] }) { return metric }
        let metric = make()  // the registry returns the same metric for the same labels
        made.withLock { $0[key] = metric }
        return metric
    }
}

extension GatewayMetrics {
    func rateLimitBudget(api: String, callsPerSecond: Double) {
        registry.makeGauge(
            descriptor: Self.name("rate_limit_target", "calls_per_second", "Calls per second the central limit aims at for this API, all replicas together."),
            labels: [("api", api)]
        ).set(to: callsPerSecond)
        // Present from the start, so dashboards see the series before the first call.
        _ = registry.makeDurationHistogram(
            descriptor: Self.name("rate_limit_wait", "seconds", "Time spent waiting for the central rate limit before an upstream call."),
            labels: [("api", api)], buckets: Self.waitBuckets)
    }

    /// A slot woke up too late to be used (the host was busy): budget lost.
    func rateLimitLateSlot(api: String) {
        registry.makeCounter(
            descriptor: Self.name("rate_limit_late_slots", "total", "Call slots not used because the call could not go out on time."),
            labels: [("api", api)]
        ).increment()
    }

    func rateLimitReservation(api: String, granted: Int, factor: Double, reservedAhead: Duration) {
        registry.makeCounter(
            descriptor: Self.name("rate_limit_reservations", "total", "Database round trips to the central rate limit."),
            labels: [("api", api)]
        ).increment()
        registry.makeCounter(
            descriptor: Self.name("rate_limit_slots", "total", "Call slots granted by the central rate limit to this replica."),
            labels: [("api", api)]
        ).increment(by: Int64(granted))
        registry.makeGauge(
            descriptor: Self.name("rate_limit_factor", "ratio", "Share of the configured rate in force (below 1 after Tencent answered 'too fast')."),
            labels: [("api", api)]
        ).set(to: factor)
        registry.makeGauge(
            descriptor: Self.name("rate_limit_reserved_ahead", "seconds", "How far ahead the shared budget is reserved: the queue before a new call."),
            labels: [("api", api)]
        ).set(to: reservedAhead.seconds)
    }
}
