import Foundation
import Logging

extension ImportDelivery {
    /// Delivers claimed accounts through multiaccount_import, at most 100 per
    /// call, each call waiting for a slot of the batch budget until `permitDeadline`.
    func deliverBatch(_ claims: [Claim], permitDeadline: ContinuousClock.Instant) async {
        await withDiscardingTaskGroup { group in
            for start in stride(from: 0, to: claims.count, by: Self.maxBatchCall) {
                let chunk = Array(claims[start..<min(start + Self.maxBatchCall, claims.count)])
                group.addTask(priority: .high) { await self.deliverChunk(chunk, permitDeadline: permitDeadline) }
            }
        }
    }

    /// Tencent's limit of accounts per multiaccount_import call.
    static let maxBatchCall = 100

    private func deliverChunk(_ chunk: [Claim], permitDeadline: ContinuousClock.Instant) async {
        countInFlight(chunk.count)
        defer { countInFlight(-chunk.count) }
        let grant = await batchLimiter.acquire(deadline: permitDeadline)
        guard let slot = grant.slot else {
            await giveBack(chunk, dueIn: grant.retryAfter)
            return
        }
        await callBatch(chunk, slot: slot)
    }

    /// Delivers a chunk in `slot` of the batch budget, which the caller waited
    /// for (the worker's path: `ImportWorker.sendBatches`).
    func deliverChunk(_ chunk: [Claim], slot: ContinuousClock.Instant) async {
        countInFlight(chunk.count)
        defer { countInFlight(-chunk.count) }
        await callBatch(chunk, slot: slot)
    }

    /// One multiaccount_import call for the chunk, its outcomes and audit event
    /// recorded in one statement; then each account it listed in FailAccounts
    /// asked again alone (`explain`), so it ends by its own reason.
    private func callBatch(_ chunk: [Claim], slot: ContinuousClock.Instant) async {
        guard let permit = await passBreaker(chunk) else { return }
        var log = logger
        if let requestID = chunk.first?.requestID { log[metadataKey: "request_id"] = "\(requestID)" }
        log[metadataKey: "batch.size"] = "\(chunk.count)"

        let sent = chunk.map { UpstreamAccount(chatUserID: $0.account.chatUserID, nick: $0.account.nick, faceURL: $0.account.faceURL) }
        guard await stillInSlot(slot, limiter: batchLimiter, chunk, permit: permit) else { return }
        let reply = await upstream.importAccounts(sent)
        metrics.upstreamCall(api: UpstreamReply.API.multiaccountImport.rawValue, errorCode: reply.result.metricLabel, duration: reply.latency)
        let attempt = chunk.map(\.account.attempts).max() ?? 1
        // The chunk's previous answer, when every account in it got the same one.
        let previousCodes = Set(chunk.map { $0.account.lastError?.code })
        let decision = policy.decide(reply.result, attempt: attempt,
                                     previousCode: previousCodes.count == 1 ? previousCodes.first ?? nil : nil)
        await observe(decision, result: reply.result, api: .multiaccountImport, limiter: batchLimiter, probe: permit == .probe, log: log)

        // Listed in FailAccounts: kept leased, and explained one by one below.
        let listed = decision == .imported ? chunk.filter { reply.failed.contains($0.account.chatUserID) } : []
        let listedIDs = Set(listed.map(\.account.userID))
        let outcomes = zip(chunk, sent).compactMap { claim, account in
            listedIDs.contains(claim.account.userID) ? nil : OutcomeRow(claim.account.userID, sent: account, decision: decision)
        }
        let event = AuditEvent(
            requestID: chunk.first?.requestID, caller: chunk.first?.caller, action: .upstreamMultiaccountImport,
            outcome: listed.isEmpty ? decision.outcome : .partial,
            tencentErrorCode: reply.result.tencentCode, tencentErrorInfo: reply.result.tencentInfo,
            attempt: attempt, latencyMilliseconds: reply.latency.milliseconds)
        // Requests waiting for these accounts: their events go with the outcomes that answer them.
        let taken = Self.takeRequestEvents(chunk.filter { !listedIDs.contains($0.account.userID) }, decision: decision)
        var recorded: [Account]?
        do {
            recorded = try await record(outcomes, event: event, requestEvents: taken.map(\.1))
            metrics.auditEvent(action: event.action.rawValue)
            for account in recorded ?? [] { noteUnexplainedEnd(account, decision: decision, log: log) }
        } catch {
            log.error("could not record the upstream outcomes; the leases will expire and the imports be retried",
                      metadata: .error(error))
        }
        Self.settle(taken, recorded: recorded)
        for claim in chunk where !listedIDs.contains(claim.account.userID) { signals.signal(claim.account.userID) }
        if !listed.isEmpty {
            log.info("accounts listed in FailAccounts are asked again one by one", metadata: ["batch.fail_accounts": "\(listed.count)"])
            await withDiscardingTaskGroup { group in
                for claim in listed {
                    group.addTask { await self.explain(claim) }
                }
            }
        }
    }
}
