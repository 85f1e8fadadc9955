import Foundation
import Logging
import PostgresClient
import TencentChat

/// `account-gateway reconcile`: asks Tencent (account_check, 100 accounts per
/// call, under the central limit) about every account the gateway holds as
/// imported, and re-queues those Tencent does not have, for the workers of the
/// running replicas to import again. Answers are handled by the same classes
/// as imports (docs/UPSTREAM_ERRORS.md): "too fast" slows every API, 70050
/// pauses every API for a minute and the run waits it out, transient failures
/// are retried a few times, and misconfiguration opens the breaker and ends the run.
public struct Reconciler: Sendable {
    let pool: PostgresPool
    let upstream: AccountUpstream
    let limiter: RateLimiter
    let breaker: UpstreamBreaker
    let logger: Logger
    /// Calls per page before its accounts are left unchecked.
    var maxTries = 5
    var backoff = RetryPolicy(base: .milliseconds(500), cap: .seconds(10))

    /// Tencent's limit for account_check, all replicas together.
    public static let checkRate = 100
    /// Accounts per account_check call: Tencent's most.
    static let pageSize = 100

    public init(pool: PostgresPool, upstream: AccountUpstream, metrics: GatewayMetrics = GatewayMetrics(), logger: Logger) {
        self.pool = pool
        self.upstream = upstream
        self.limiter = RateLimiter(api: .accountCheck, configuredRate: Self.checkRate, store: PostgresRateLimitStore(pool: pool),
                                   metrics: metrics, logger: logger)
        self.breaker = UpstreamBreaker(store: PostgresBreakerStore(pool: pool), metrics: metrics, logger: logger)
        self.logger = logger
    }

    public struct Summary: Sendable, Equatable, CustomStringConvertible {
        public var checked = 0
        public var confirmed = 0
        /// Imported here, unknown to Tencent: re-queued.
        public var requeued = 0
        /// Accounts whose check failed (an error answer or no answer); still `imported` here.
        public var unchecked = 0

        public var description: String {
            "checked \(checked) imported accounts: \(confirmed) confirmed by Tencent, \(requeued) missing there and re-queued, \(unchecked) not checked (errors)"
        }
    }

    public func run(progress: @Sendable (Summary) -> Void = { _ in }) async throws -> Summary {
        if let open = await breaker.state() {
            throw Aborted(description: "upstream \(open.summary); fix the configuration, let `serve` import again, then reconcile")
        }
        var summary = Summary()
        var after = ""
        while true {
            let rows = try await pool.query("""
                SELECT user_id, chat_user_id FROM accounts WHERE status = 'imported' AND user_id > \(after)::text
                ORDER BY user_id LIMIT \(Self.pageSize)
                """).rows
            guard let last = rows.last else { break }
            after = try last.string("user_id")
            let chatIDs = try rows.map { try $0.string("chat_user_id") }
            summary.checked += chatIDs.count
            let answer: (missing: [String], confirmed: Int)
            do {
                answer = try await check(chatIDs)
            } catch let error as CheckFailed {
                logger.warning("account_check failed; these accounts stay as they are", metadata: [
                    "reconcile.after": "\(after)",
                ].adding(error))
                summary.unchecked += chatIDs.count
                progress(summary)
                continue
            }
            let missing = answer.missing
            if !missing.isEmpty {
                let requeued = try await pool.query("""
                    UPDATE accounts SET status = 'pending', upstream_exists = false, attempts = 0, unexplained_attempts = 0, next_attempt_at = now(),
                        updated_at = now(), request_id = 'reconcile', last_error_code = NULL, last_error_info = NULL
                    WHERE status = 'imported' AND chat_user_id = \(fragment: .any(of: missing))
                    """).affectedRows
                summary.requeued += requeued
                logger.warning("accounts missing at Tencent re-queued", metadata: ["reconcile.requeued": "\(requeued)"])
            }
            summary.confirmed += answer.confirmed
            summary.unchecked += chatIDs.count - answer.confirmed - missing.count
            progress(summary)
        }
        return summary
    }

    struct CheckFailed: Error, CustomStringConvertible {
        var description: String
    }

    /// The chat IDs Tencent answers `NotImported` for, and how many it answers
    /// `Imported` for (the rest had a per-item error or no answer). Throws
    /// `CheckFailed` when the page stays unanswered after `maxTries` calls, and
    /// `Aborted` when no call can succeed (misconfiguration, a bug).
    private func check(_ chatIDs: [String]) async throws -> (missing: [String], confirmed: Int) {
        var tries = 0
        while true {
            let grant = await limiter.acquire(deadline: .now + .seconds(30))
            guard grant.permitted else {
                // Paused (70050) or a long queue: wait for the budget, it is not a failure of this page.
                // Looked at again every few seconds: the pause can be lifted (or moved) meanwhile.
                try await Task.sleep(for: min(max(grant.retryAfter, .milliseconds(100)), .seconds(5)))
                continue
            }
            tries += 1
            let reply = await upstream.checkAccounts(chatIDs)
            switch reply.result.errorClass {
            case .success:
                await breaker.reportSuccess()
                return (chatIDs.filter { reply.notImported.contains($0) }, chatIDs.filter { reply.imported.contains($0) }.count)
            case .signatureLockout:
                // Waited out at the limiter (every API is paused); not a failure of this page.
                await limiter.reportLockout()
                logger.error("Tencent locked the admin out (70050); every API pauses for a minute", metadata: [
                    "upstream.error_info": "\(reply.result.tencentInfo ?? "")",
                ])
            case .rateLimited, .renewSignature, .transient, .undocumented:
                if reply.result.errorClass == .rateLimited { await limiter.reportRateLimited() }
                // (After 70001/70052 the client signs anew for the next call.)
                guard tries < maxTries else {
                    throw CheckFailed(description: "account_check answered \(reply.result.summary) \(tries) times")
                }
                try await Task.sleep(for: backoff.delay(attempt: tries))
            case .misconfiguration:
                await breaker.reportMisconfiguration(code: reply.result.tencentCode, reason: reply.result.tencentInfo ?? reply.result.summary,
                                                     probe: false)
                throw Aborted(description: "account_check answered \(reply.result.summary): the configuration "
                              + "(key, app, region, admin, endpoint) is wrong; nothing can be checked until it is fixed")
            case .permanent, .gatewayBug:
                throw Aborted(description: "account_check answered \(reply.result.summary): a bug in the gateway's request")
            }
        }
    }

    /// No call can succeed: the run stops.
    struct Aborted: Error, CustomStringConvertible {
        var description: String
    }
}
