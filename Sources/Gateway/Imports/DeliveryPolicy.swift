import TencentChat

/// What to do with an upstream answer (docs/UPSTREAM_ERRORS.md): pure, so every
/// code's handling is unit-tested without a network.
struct DeliveryPolicy: Sendable {
    /// Capped exponential backoff with full jitter for transient failures.
    var backoff = RetryPolicy(base: .milliseconds(500), cap: .seconds(60))
    /// Tencent's limit is per second: after 60007 and friends, wait about a second.
    var rateLimitedDelay: Duration = .seconds(1)
    /// 70050: stop calling for at least 60 s.
    var lockoutDelay: Duration = .seconds(60)
    /// Misconfiguration cannot heal by retrying: the breaker's probes decide when to try again.
    var misconfigurationDelay: Duration = .seconds(30)
    /// A bug of ours cannot heal by retrying either; look again once a minute.
    var gatewayBugDelay: Duration = .seconds(60)
    /// Answers with an undocumented code (or an unexplained FailAccounts listing)
    /// an account may get before it ends `failed` (GATEWAY_MAX_UNEXPLAINED_ATTEMPTS).
    var maxUnexplainedAttempts = 5
    /// A number in 0..<1 for jitter; injected in tests.
    var random: @Sendable () -> Double = { Double.random(in: 0..<1) } {
        didSet { backoff.random = random }
    }

    /// `previousCode`: Tencent's code in the account's previous answer, if any.
    func decide(_ result: UpstreamReply.Result, attempt: Int, previousCode: Int? = nil) -> DeliveryDecision {
        let code = result.tencentCode
        let info = result.tencentInfo ?? result.summary
        switch result.errorClass {
        case .success:
            return .imported
        case .permanent:
            return .rejected(code: code ?? 0, info: info)  // only Tencent's codes are permanent
        case .rateLimited:
            return .retry(after: jittered(rateLimitedDelay), reason: .rateLimited, code: code, info: info)
        case .signatureLockout:
            return .retry(after: lockoutDelay, reason: .lockout, code: code, info: info)
        case .misconfiguration:
            return .retry(after: misconfigurationDelay, reason: .misconfiguration, code: code, info: info)
        case .gatewayBug:
            return .retry(after: gatewayBugDelay, reason: .gatewayBug, code: code, info: info)
        case .renewSignature:
            // The client dropped the signature; the retry signs anew and takes its own slot,
            // soon. If the previous answer asked for a new signature too, a fresh one did not
            // help (a skewed clock, a key Tencent no longer takes): back off as for transient
            // errors instead of asking a few times a second for ever.
            let again = previousCode.map { TencentErrorClass.classify($0) == .renewSignature } ?? false
            return .retry(after: backoff.delay(attempt: again ? attempt : 1), reason: .renewSignature, code: code, info: info)
        case .transient:
            return .retry(after: backoff.delay(attempt: attempt), reason: .transient, code: code, info: info)
        case .undocumented:
            // An undocumented code, or FailAccounts without a reason (asked again alone by
            // `ImportDelivery.explain`): counted, and bounded where outcomes are recorded.
            return .retry(after: backoff.delay(attempt: attempt), reason: .unexplained, code: code, info: info)
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
    var outcome: AuditEvent.Outcome {
        switch self {
        case .imported: .ok
        case .rejected: .rejected
        case .retry(_, let reason, _, _): reason.auditOutcome
        }
    }

    var retryReason: RetryReason? {
        if case .retry(_, let reason, _, _) = self { return reason }
        return nil
    }

    /// Tencent took the request as authentic and well-addressed: the configuration works.
    var provesConfiguration: Bool {
        switch self {
        case .imported, .rejected: true
        case .retry: false
        }
    }
}

enum RetryReason: String, Sendable {
    case transient, rateLimited = "rate_limited", lockout, misconfiguration, gatewayBug = "gateway_bug"
    case renewSignature = "renew_signature"
    /// An undocumented code, or FailAccounts without a reason: bounded attempts.
    case unexplained

    var auditOutcome: AuditEvent.Outcome {
        switch self {
        case .transient: .transient
        case .rateLimited: .rateLimited
        case .lockout: .lockout
        case .misconfiguration: .misconfiguration
        case .gatewayBug: .gatewayBug
        case .renewSignature: .renewSignature
        case .unexplained: .unexplained
        }
    }
}
