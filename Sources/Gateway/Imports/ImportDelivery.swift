import Foundation
import Logging
import Synchronization

/// Makes one delivery attempt for a pending account: claim it (a lease, so one
/// replica at a time calls Tencent for it), call upstream outside any
/// transaction, then record the outcome and its audit event together.
/// Shared by the request path and the background worker.
final class ImportDelivery: Sendable {
    /// An account this replica holds the lease on.
    struct Claim: Sendable {
        var account: Account
        var requestID: String?
        var caller: String?
        /// Asked for in bulk (a batch, an `import`): delivered through multiaccount_import.
        var bulk: Bool
        /// The event of the request that created the account and delivers it now,
        /// to be recorded with a final outcome.
        var requestEvent: RequestEventOffer? = nil
    }

    let store: LeaseStore
    /// Records calls' outcomes, several calls a statement when they finish together.
    let recorder: CallRecorder
    let upstream: AccountUpstream
    let policy: DeliveryPolicy
    let signals: OutcomeSignals
    /// This replica's name in `accounts.lease_owner`.
    let owner: String
    let logger: Logger
    /// Rung when a request leaves an account due for this replica's worker.
    let doorbell = Doorbell()
    /// Claims waiting for a multiaccount_import call (`ImportWorker.sendBatches`).
    let batchQueue = BatchQueue()
    /// Deliveries under way in this replica, so shutdown can let them finish.
    private let inFlight = InFlightCounter()
    let metrics: GatewayMetrics
    /// The central budget, per upstream API.
    let importLimiter: RateLimiter
    let batchLimiter: RateLimiter
    /// Shared by every replica: no calls but a probe while the configuration is wrong.
    let breaker: UpstreamBreaker
    /// Until when the last 70050 this replica received pauses every call (the
    /// central pause lasts as long; other replicas see it in their reservations).
    private let lockedOutUntil = Mutex<ContinuousClock.Instant?>(nil)

    init(store: LeaseStore, upstream: AccountUpstream, policy: DeliveryPolicy,
         signals: OutcomeSignals, owner: String, metrics: GatewayMetrics, logger: Logger,
         importLimiter: RateLimiter, batchLimiter: RateLimiter, breaker: UpstreamBreaker) {
        self.metrics = metrics
        self.breaker = breaker
        self.importLimiter = importLimiter
        self.batchLimiter = batchLimiter
        self.store = store
        let maxUnexplained = policy.maxUnexplainedAttempts
        self.recorder = CallRecorder(logger: logger) { calls in
            try await store.record(calls, owner: owner, maxUnexplained: maxUnexplained)
        }
        self.upstream = upstream
        self.policy = policy
        self.signals = signals
        self.owner = owner
        self.logger = logger
    }

    /// Claims one account if `Lease.isClaimable`.
    func claim(_ userID: String) async throws -> Claim? {
        try await store.claim([userID], owner: owner).first
    }

    /// Claims these accounts where they are claimable.
    func claim(_ userIDs: [String]) async throws -> [Claim] {
        try await store.claim(userIDs, owner: owner)
    }

    /// Claims up to `limit` due accounts, oldest due first, skipping rows other
    /// replicas are claiming at the same moment.
    func claimDue(limit: Int) async throws -> [Claim] {
        try await store.claimDue(limit: limit, owner: owner)
    }

    /// Waits for a slot of the central budget until `permitDeadline`, calls
    /// Tencent for a claimed account and records what happened. Never throws:
    /// when the outcome cannot be recorded, the lease runs out and the attempt
    /// is made again (Tencent's import is safe to repeat). Without a slot the
    /// claim is given back, not counted as an attempt, and due again when
    /// budget is expected to be free (at once when the worker can coalesce it
    /// through the batch budget).
    /// `reserved`: the slot the statement that claimed the account reserved.
    /// Returns the account as recorded, or nil when nothing was (no slot, or the record failed).
    @discardableResult
    func deliver(_ claim: Claim, permitDeadline: ContinuousClock.Instant, reserved: RateLimiter.Reserved? = nil) async -> Account? {
        inFlight.add(1)
        defer { inFlight.add(-1) }
        let limiter = limiter(for: claim.account)
        // A slot reserved for account_import is no use to an account that goes through multiaccount_import.
        let grant = await limiter.acquire(deadline: permitDeadline, reserved: limiter === importLimiter ? reserved : nil)
        guard let slot = grant.slot else {
            // The worker may still serve it soon through the batch budget, coalesced with
            // others: the claim joins its queue as it is, or (no worker here) is due at once.
            let batchSoon = limiter !== batchLimiter && batchLimiter.mayServe(before: .now + .seconds(1))
            if batchSoon, queueForBatch(claim) { return nil }
            await giveBack(claim, dueIn: batchSoon ? .zero : grant.retryAfter)
            if batchSoon { doorbell.ring() }
            return nil
        }
        return await call(claim, limiter: limiter, slot: slot)
    }

    /// Queues a claim for this replica's worker's next batch call, and offers
    /// that call the request's event; false when no worker runs here.
    func queueForBatch(_ claim: Claim) -> Bool {
        guard batchQueue.offer([claim]) else { return false }
        claim.requestEvent?.handOver()
        return true
    }

    /// The latest moment a single account's own account_import call should go
    /// out: before `deadline`, and no later than the batch budget could carry it,
    /// coalesced by the worker, give or take `coalescingLead`. Under
    /// a backlog of single requests account_import's slots lie far ahead, while
    /// multiaccount_import's come every few milliseconds, each carrying up to 100.
    func singleCallDeadline(before deadline: ContinuousClock.Instant) -> ContinuousClock.Instant {
        min(deadline, max(batchLimiter.nextFree, .now + Self.coalescingLead))
    }

    /// How much later than the batch budget's next slot a single call may still
    /// go out through account_import. Enough to keep account_import's share in
    /// use under a backlog (rate bench: 20 ms left it at 86-93% of 200/s, 100 ms
    /// at 97%), short enough that the worker no longer books its slots up to a
    /// second ahead for requests still waiting (singles bench: 490-679 accounts/s
    /// before, 712-898 with 100 ms, 1,019-1,133 with 20 ms).
    static let coalescingLead: Duration = .milliseconds(100)

    /// The limiter an account's next call goes through.
    func limiter(for account: Account) -> RateLimiter {
        account.mayExistUpstream ? batchLimiter : importLimiter
    }

    /// Delivers a claimed account at a slot already reserved for it (the worker's path).
    func deliver(_ claim: Claim, at slot: ContinuousClock.Instant) async {
        inFlight.add(1)
        defer { inFlight.add(-1) }
        guard await RateLimiter.waitFor(slot) else {
            metrics.rateLimitLateSlot(api: limiter(for: claim.account).api.rawValue)
            await giveBack(claim, dueIn: .zero)
            return
        }
        await call(claim, limiter: limiter(for: claim.account), slot: slot)
    }

    /// Gives claims back unattempted (one statement), e.g. those no budget was reserved for.
    func giveBack(_ claims: [Claim], dueIn delay: Duration) async {
        guard !claims.isEmpty else { return }
        let userIDs = claims.map(\.account.userID)
        do {
            try await store.giveBack(userIDs, owner: owner, dueIn: delay)
        } catch {
            logger.warning("could not give claims back; their leases expire by themselves",
                           metadata: ["claims": "\(userIDs.count)"].adding(error))
        }
        for userID in userIDs { signals.signal(userID) }
    }

    private func giveBack(_ claim: Claim, dueIn delay: Duration) async {
        await giveBack([claim], dueIn: delay)
    }

    /// Whether a call whose slot came may still leave, checked last before it does
    /// (`RateLimiter.isUsable`); if not, its claims are given back unattempted,
    /// due at once. The breaker's probe always leaves: it is the only call while
    /// the breaker is open, so it crowds no other, and given back it would keep
    /// the breaker open for another probe interval.
    func stillInSlot(_ slot: ContinuousClock.Instant, limiter: RateLimiter, _ claims: [Claim],
                     permit: UpstreamBreaker.Permit) async -> Bool {
        guard permit != .probe, !RateLimiter.isUsable(slot) else { return true }
        metrics.rateLimitLateSlot(api: limiter.api.rawValue)
        await giveBack(claims, dueIn: .zero)
        doorbell.ring()
        return false
    }

    /// Whether a call may go out now; while the breaker is open (and this is not
    /// its probe) the claims are given back.
    func passBreaker(_ claims: [Claim]) async -> UpstreamBreaker.Permit? {
        let permit = await breaker.permit()
        if case .wait(let delay) = permit {
            // Due again soon rather than at the next probe: while the breaker is open
            // the worker claims nothing but the probe, and once it closes they go at once.
            await giveBack(claims, dueIn: min(delay, .seconds(2)))
            return nil
        }
        return permit
    }

    /// One account_import (or, for an account Tencent has, a one-item
    /// multiaccount_import) and its outcome. `explaining`: the account was listed
    /// in a multiaccount_import's FailAccounts, and is asked again alone through
    /// account_import, whose answer carries its own reason.
    @discardableResult
    private func call(_ claim: Claim, limiter: RateLimiter, slot: ContinuousClock.Instant, explaining: Bool = false) async -> Account? {
        guard let permit = await passBreaker([claim]) else { return nil }
        let account = claim.account
        let sent = UpstreamAccount(chatUserID: account.chatUserID, nick: account.nick, faceURL: account.faceURL)
        guard await stillInSlot(slot, limiter: limiter, [claim], permit: permit) else { return nil }
        var log = logger
        log[metadataKey: "account.user_id"] = "\(account.userID)"
        log[metadataKey: "import.attempt"] = "\(account.attempts)"
        if let requestID = claim.requestID { log[metadataKey: "request_id"] = "\(requestID)" }

        let reply = await upstream.importAccount(sent, updatingProfile: account.mayExistUpstream && !explaining)
        var result = reply.result
        if explaining, result == .ok, account.mayExistUpstream {
            // Tencent has (or had) the account, but account_import does not update
            // profiles: why multiaccount_import refused the new one is still unexplained.
            result = .listedInFailAccounts
        }
        let decision = policy.decide(result, attempt: account.attempts, previousCode: account.lastError?.code)
        metrics.upstreamCall(api: reply.api.rawValue, errorCode: result.metricLabel, duration: reply.latency)
        var event = AuditEvent(
            requestID: claim.requestID, caller: claim.caller,
            action: reply.api == .accountImport ? .upstreamAccountImport : .upstreamMultiaccountImport,
            userID: account.userID, chatUserID: account.chatUserID, outcome: decision.outcome,
            tencentErrorCode: result.tencentCode, tencentErrorInfo: result.tencentInfo,
            attempt: account.attempts, latencyMilliseconds: reply.latency.milliseconds)

        await observe(decision, result: result, api: reply.api, limiter: limiter, probe: permit == .probe, log: log)

        if result == .listedInFailAccounts && !explaining {
            // This call's own event, then the account alone through account_import.
            event.outcome = .failAccounts
            do {
                try await record([], event: event)
                metrics.auditEvent(action: event.action.rawValue)
            } catch {
                log.error("could not record the upstream call", metadata: .error(error))
            }
            return await explain(claim)
        }

        // A final outcome of the request's own call: the request's event goes in the same statement.
        let taken = explaining ? [] : Self.takeRequestEvents([claim], decision: decision)
        var recorded: Account?
        do {
            recorded = try await record([OutcomeRow(account.userID, sent: sent, decision: decision)], event: event,
                                        requestEvents: taken.map(\.1)).first
            metrics.auditEvent(action: event.action.rawValue)
        } catch {
            log.error("could not record the upstream outcome; the lease will expire and the import be retried",
                      metadata: .error(error))
        }
        Self.settle(taken, recorded: recorded.map { [$0] })
        if let recorded { noteUnexplainedEnd(recorded, decision: decision, log: log) }
        signals.signal(account.userID)
        return recorded
    }

    /// An account multiaccount_import listed in FailAccounts, asked again alone
    /// through account_import inside the central budget, so it ends by its own reason.
    @discardableResult
    func explain(_ claim: Claim) async -> Account? {
        let grant = await importLimiter.acquire(deadline: .now + Self.explainWait)
        guard let slot = grant.slot else {
            await giveBack(claim, dueIn: grant.retryAfter)
            return nil
        }
        return await call(claim, limiter: importLimiter, slot: slot, explaining: true)
    }

    /// How long an account listed in FailAccounts waits for an account_import slot before it is given back.
    static let explainWait: Duration = .seconds(2)

    /// Logs and counts an account that ended `failed` after its bounded unexplained answers.
    func noteUnexplainedEnd(_ account: Account, decision: DeliveryDecision, log: Logger) {
        guard account.status == .failed, decision.retryReason == .unexplained else { return }
        metrics.upstreamUnexplainedFailure(code: account.lastError?.code)
        log.error("import failed after repeated unexplained upstream answers; an operator should look at the code", metadata: [
            "account.user_id": "\(account.userID)", "upstream.error_code": "\(account.lastError.map { String($0.code) } ?? "none")",
            "upstream.error_info": "\(account.lastError?.info ?? "")", "import.max_unexplained": "\(policy.maxUnexplainedAttempts)",
        ])
    }

    func countInFlight(_ delta: Int) {
        inFlight.add(delta)
    }

    /// For shutdown: waits up to `timeout` for deliveries under way, then gives
    /// back this replica's remaining leases so other replicas need not wait for them to expire.
    func drain(timeout: Duration) async {
        let deadline = ContinuousClock.now + timeout
        while inFlight.value > 0 && ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(50))
        }
        do {
            let released = try await store.releaseAll(owner: owner)
            logger.info("released leases", metadata: ["leases.released": "\(released)"])
        } catch {
            logger.warning("could not release leases; they expire by themselves", metadata: .error(error))
        }
    }

    /// Whether no call can go out before `deadline`: the breaker is open, or a
    /// 70050 this replica received pauses every call past it. A request then
    /// stores its intent and answers 202 at once instead of waiting for nothing.
    func callsHeld(through deadline: ContinuousClock.Instant) async -> Bool {
        if lockedOutUntil.withLock({ until in until.map { $0 > deadline } ?? false }) { return true }
        return await breaker.state() != nil
    }

    /// Metrics, logs, the breaker and the shared limiter's adaptive protection for one decision.
    func observe(_ decision: DeliveryDecision, result: UpstreamReply.Result, api: UpstreamReply.API,
                 limiter: RateLimiter, probe: Bool, log: Logger) async {
        if decision.provesConfiguration { await breaker.reportSuccess() }
        switch decision {
        case .imported:
            log.debug("upstream import succeeded", metadata: ["upstream.api": "\(api.rawValue)"])
        case .rejected(let code, let info):
            log.warning("upstream rejected the import for good",
                        metadata: ["upstream.error_code": "\(code)", "upstream.error_info": "\(info)"])
        case .retry(let delay, let reason, let code, let info):
            // 70050 and "too fast" concern the whole app at Tencent: every API, every replica.
            if reason == .rateLimited { await limiter.reportRateLimited() }
            if reason == .lockout {
                lockedOutUntil.withLock { $0 = .now + policy.lockoutDelay }
                await limiter.reportLockout(seconds: Int(policy.lockoutDelay.seconds.rounded(.up)))
            }
            if reason == .misconfiguration { await breaker.reportMisconfiguration(code: code, reason: info, probe: probe) }
            let needsOperator = reason == .misconfiguration || reason == .lockout || reason == .gatewayBug
            if needsOperator { metrics.upstreamAlert(reason: reason.rawValue) }
            let level: Logger.Level = needsOperator ? .error : .warning
            log.log(level: level, "upstream import will be retried", metadata: [
                "upstream.api": "\(api.rawValue)", "upstream.error_code": "\(result.tencentCode.map(String.init) ?? "none")",
                "upstream.error_info": "\(info)", "retry.reason": "\(reason.rawValue)", "retry.delay_ms": "\(delay.milliseconds)",
            ])
        }
    }
}
