import TencentChat

/// What to do with an upstream answer (TENCENT.md's table): pure, so every
/// code's handling is unit-tested without a network.
struct DeliveryPolicy: Sendable {
    /// Capped exponential backoff with full jitter for transient failures.
    var backoff = RetryPolicy(base: .milliseconds(500), cap: .seconds(60))
    /// Tencent's limit is per second: after 60007 and friends, wait about a second.
    var rateLimitedDelay: Duration = .seconds(1)
    /// 70050: stop calling for at least 60 s.
    var lockoutDelay: Duration = .seconds(60)
    /// Misconfiguration cannot heal by retrying; look again once a minute.
    var misconfigurationDelay: Duration = .seconds(60)
    /// A number in 0..<1 for jitter; injected in tests.
    var random: @Sendable () -> Double = { Double.random(in: 0..<1) } {
        didSet { backoff.random = random }
    }

    func decide(_ result: UpstreamReply.Result, attempt: Int) -> DeliveryDecision {
        switch result {
        case .ok:
            return .imported
        case .transport(let why):
            return .retry(after: backoff.delay(attempt: attempt), reason: .transient, code: nil, info: why)
        case .tencent(let code, let info):
            switch TencentErrorClass.classify(code) {
            case .success:
                return .imported
            case .permanent:
                return .rejected(code: code, info: info)
            case .rateLimited:
                return .retry(after: jittered(rateLimitedDelay), reason: .rateLimited, code: code, info: info)
            case .signatureLockout:
                return .retry(after: lockoutDelay, reason: .lockout, code: code, info: info)
            case .misconfiguration:
                return .retry(after: misconfigurationDelay, reason: .misconfiguration, code: code, info: info)
            case .gatewayBug:
                return .retry(after: misconfigurationDelay, reason: .gatewayBug, code: code, info: info)
            case .transient, .renewSignature:
                // The client already renewed the signature and retried once.
                return .retry(after: backoff.delay(attempt: attempt), reason: .transient, code: code, info: info)
            }
        }
    }

    /// Between the delay and twice it, so replicas don't come back in step.
    private func jittered(_ delay: Duration) -> Duration {
        delay + delay * random()
    }
}

enum DeliveryDecision: Sendable, Equatable {
    case imported
    case rejected(code: Int, info: String)
    case retry(after: Duration, reason: RetryReason, code: Int?, info: String)

    /// The audit outcome of the upstream call.
    var outcome: String {
        switch self {
        case .imported: "ok"
        case .rejected: "rejected"
        case .retry(_, let reason, _, _): reason.rawValue
        }
    }
}

enum RetryReason: String, Sendable {
    case transient, rateLimited = "rate_limited", lockout, misconfiguration, gatewayBug = "gateway_bug"
}
