extension AuditEvent {
    /// What an audited request or upstream call came to: the `outcome` column,
    /// the values auditors filter on (`GET /audit?outcome=`).
    public enum Outcome: String, Sendable, CaseIterable, Encodable {
        // POST /accounts, by what happened to the account.
        case imported, updated, pending, rejected
        case alreadyImported = "already_imported"
        /// An Idempotency-Key request answered again from its stored answer.
        case replayed
        /// A batch (or a multiaccount_import call) of which only some accounts were imported.
        case partial
        // Lookups.
        case found
        case notFound = "not_found"
        // Refused requests, by their HTTP status (`GatewayApplication.outcome(forStatus:)`).
        case ok, invalid, unauthenticated, forbidden, conflict, throttled, unavailable, error
        case tooLarge = "too_large"
        case unsupportedMediaType = "unsupported_media_type"
        // Upstream calls that will be retried, by why (`RetryReason`).
        case transient, lockout, misconfiguration, unexplained
        case rateLimited = "rate_limited"
        case gatewayBug = "gateway_bug"
        case renewSignature = "renew_signature"
        /// A one-account multiaccount_import that listed the account in FailAccounts.
        case failAccounts = "fail_accounts"
    }
}
