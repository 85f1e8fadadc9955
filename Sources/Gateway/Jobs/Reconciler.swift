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
    /// The share of `checkRate` the run aims at. Reconciling has no caller
    /// waiting, so its margin is wide: a second at Tencent stays within the
    /// limit with calls arriving up to about 160 ms late (at 97 %, as imports
    /// aim, 30 ms; `reconcile_bench.py` with 100–200 ms of sandbox latency saw
    /// 101 calls in a second and one 60007).
    static let checkHeadroom = 0.85
    /// Accounts per account_check call: Tencent's most.
    static let pageSize = 100

    public init(pool: PostgresPool, upstream: AccountUpstream, metrics: GatewayMetrics = GatewayMetrics(), logger: Logger) {
        self.pool = pool
        self.upstream = upstream
        self.limiter = RateLimiter(api: .accountCheck, configuredRate: Self.checkRate, store: PostgresRateLimitStore(pool: pool),
                                   metrics: metrics, logger: logger, headroom: Self.checkHeadroom)
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

        mutating func add(_ page: Summary) {
            checked += page.checked
            confirmed += page.confirmed
            requeued += page.requeued
            unchecked += page.unchecked
        }
    }

    public func run(progress: @Sendable (Summary) -> Void = { _ in }) async throws -> Summary {
        if let open = await breaker.state() {
            throw Aborted(description: "upstream \(open.summary); fix the configuration, let `serve` import again, then reconcile")
        }
        var summary = Summary()
        try await withThrowingTaskGroup(of: Summary.self) { group in
            var after = ""
            var checking = 0
            var read = false
            while true {
                // Pages are read in order and checked several at a time: one call's
                // latency at Tencent must not set the pace, the central limit does.
                while !read && checking < Self.pagesInFlight {
                    let page = try await self.page(after: after)
                    guard let last = page.last else {
                        read = true
                        break
                    }
                    after = last.userID
                    group.addTask { try await self.reconcile(page) }
                    checking += 1
                }
                guard let page = try await group.next() else { break }
                checking -= 1
                summary.add(page)
                progress(summary)
            }
        }
        return summary
    }

    /// Pages checked at once at the most: enough for the whole account_check
    /// budget (100 calls/s) with up to about 300 ms per call. One at a time, a
    /// sandbox answering in 100–200 ms held `reconcile` to about 6.5 pages a second.
    static let pagesInFlight = 32

    private typealias Page = [(userID: String, chatUserID: String)]

    /// Up to `pageSize` imported accounts after `after`, in user_id order.
    private func page(after: String) async throws -> Page {
        try await pool.query("""
            SELECT user_id, chat_user_id FROM accounts WHERE status = 'imported' AND user_id > \(after)::text
            ORDER BY user_id LIMIT \(Self.pageSize)
            """).rows.map { (try $0.string("user_id"), try $0.string("chat_user_id")) }
    }

    /// Checks one page and re-queues what Tencent does not have; the page's counts.
    private func reconcile(_ page: Page) async throws -> Summary {
        let chatIDs = page.map(\.chatUserID)
        var counts = Summary(checked: chatIDs.count)
        let answer: (missing: [String], confirmed: Int)
        do {
            answer = try await check(chatIDs)
        } catch let error as CheckFailed {
            logger.warning("account_check failed; these accounts stay as they are", metadata: [
                "reconcile.after": "\(page.last?.userID ?? "")",
            ].adding(error))
            counts.unchecked = chatIDs.count
            return counts
        }
        let missing = answer.missing
        if !missing.isEmpty {
            counts.requeued = try await pool.query("""
                UPDATE accounts SET status = 'pending', upstream_exists = false, attempts = 0, unexplained_attempts = 0, next_attempt_at = now(),
                    updated_at = now(), request_id = 'reconcile', last_error_code = NULL, last_error_info = NULL
                WHERE status = 'imported' AND chat_user_id = \(fragment: .any(of: missing))
                """).affectedRows
            logger.warning("accounts missing at Tencent re-queued", metadata: ["reconcile.requeued": "\(counts.requeued)"])
        }
        counts.confirmed = answer.confirmed
        counts.unchecked = chatIDs.count - answer.confirmed - missing.count
        return counts
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
