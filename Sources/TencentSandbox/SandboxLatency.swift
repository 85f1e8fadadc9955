/// Extra time the sandbox waits before answering a `/v4` call.
public enum SandboxLatency: Sendable, Equatable {
    case none
    case fixed(Duration)
    /// Uniformly distributed within the range (drawn from the sandbox's random source).
    case range(ClosedRange<Duration>)
}
