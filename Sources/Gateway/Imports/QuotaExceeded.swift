/// A caller, or everyone together, has as many imports pending as allowed
/// (`BacklogQuota`); nothing was stored. The edge answers 429 with Retry-After.
struct QuotaExceeded: Error, Sendable, Equatable {
    var message: String
    /// When enough of the backlog should have drained, 1 to 300 s.
    var retryAfterSeconds: Int
}
