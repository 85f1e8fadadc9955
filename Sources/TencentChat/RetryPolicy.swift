/// Capped exponential backoff with full jitter:
/// `delay(n) = random(0 ..< min(cap, base · 2^(n-1)))` for retry `n ≥ 1`.
///
/// Full jitter spreads retries of many replicas over the whole interval,
/// so a recovering upstream is not hit by synchronized waves.
public struct RetryPolicy: Sendable {
    public var base: Duration
    public var cap: Duration
    /// Uniform in `0 ..< 1`; injected so tests can pin the jitter.
    public var random: @Sendable () -> Double

    public init(
        base: Duration = .milliseconds(200), cap: Duration = .seconds(30),
        random: @escaping @Sendable () -> Double = { Double.random(in: 0..<1) }
    ) {
        precondition(base > .zero && cap >= base, "need 0 < base ≤ cap")
        self.base = base
        self.cap = cap
        self.random = random
    }

    /// The upper bound of the delay before retry `attempt` (1 = first retry).
    public func ceiling(attempt: Int) -> Duration {
        var ceiling = base
        for _ in 1..<max(attempt, 1) {
            ceiling *= 2
            if ceiling >= cap { return cap }
        }
        return min(ceiling, cap)
    }

    /// The delay before retry `attempt`, in `0 ..< ceiling(attempt)`.
    public func delay(attempt: Int) -> Duration {
        let fraction = min(max(random(), 0), 0.999_999_999)
        return .seconds(ceiling(attempt: attempt).seconds * fraction)
    }
}
