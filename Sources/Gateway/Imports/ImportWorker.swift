import Foundation
import Logging
import Synchronization

/// Runs in every replica: picks up pending imports that are due — retries,
/// 202s whose request gave up waiting, rows committed by `import` or a batch,
/// imports left behind by a crashed replica — and delivers them, keeping up
/// to `maxInFlight` accounts under way so both central budgets can be used to
/// the last call.
///
/// Coalescing: due accounts are claimed as a set, as many as both budgets can
/// serve within `permitHorizon`, and split by `plan`: accounts asked for alone
/// go one by one through `account_import` while its share lasts, and what it
/// cannot serve is coalesced through `multiaccount_import`, up to 100 accounts
/// per call under that API's own central limit; accounts asked for in bulk go
/// in batches only. Under a backlog of single requests the two budgets work
/// together: 200 calls/s of one account plus 100 calls/s of 100.
struct ImportWorker: Sendable {
    let delivery: ImportDelivery
    let logger: Logger
    /// Accounts claimed per round trip at most.
    var claimLimit = 2_000
    /// Accounts under way at most (about a second of both budgets).
    var maxInFlight = 10_000
    /// How far ahead a claimed import may wait for budget; beyond, it is given
    /// back so a dying replica never sits on much of the shared budget.
    var permitHorizon: Duration = .seconds(1)
    /// How long to wait for due accounts when none are, unless a request of this replica rings.
    var idleInterval: Duration = .milliseconds(100)
    var errorInterval: Duration = .seconds(1)

    /// Runs until the task is cancelled.
    func run() async {
        logger.info("import worker started", metadata: ["worker.owner": "\(delivery.owner)"])
        let inFlight = InFlightCounter()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let free = maxInFlight - inFlight.value
                // While the breaker is open nothing is claimed but the one probe.
                var probeOnly = false
                if let open = await delivery.breaker.state() {
                    let wait = open.nextProbe - .now
                    if wait > .zero {
                        try? await Task.sleep(for: min(wait, .seconds(1)))
                        continue
                    }
                    probeOnly = true
                }
                // Claim only what the shared budgets can serve soon: claims given back
                // unattempted cost round trips and churn the table for nothing.
                let singles = delivery.importLimiter.grantableSoon(within: permitHorizon)
                let batches = delivery.batchLimiter.grantableSoon(within: permitHorizon)
                let servable = probeOnly ? min(free, 1) : min(free, claimLimit, singles + batches * ImportDelivery.maxBatchCall)
                if servable <= 0 {
                    // Both budgets are reserved beyond the horizon (or the in-flight cap is
                    // reached): sleep until one frees up, rather than polling.
                    let untilImport = delivery.importLimiter.timeUntilGrantable(within: permitHorizon)
                    let untilBatch = delivery.batchLimiter.timeUntilGrantable(within: permitHorizon)
                    let wait = free <= 0 ? .milliseconds(50) : min(untilImport, untilBatch)
                    try? await Task.sleep(for: min(max(wait, .milliseconds(1)), .seconds(1)))
                    continue
                }
                do {
                    let claims = try await delivery.claimDue(limit: servable)
                    if claims.isEmpty {
                        await delivery.doorbell.wait(timeout: idleInterval)
                        continue
                    }
                    let backoff = await dispatch(claims, singles: singles, inFlight: inFlight, group: &group)
                    if backoff > .zero { try? await Task.sleep(for: backoff) }
                } catch {
                    logger.warning("import worker cannot claim pending imports", metadata: .error(error))
                    try? await Task.sleep(for: errorInterval)
                }
            }
        }
        logger.info("import worker stopped")
    }

    /// The plan for one claimed set: which accounts go one by one through
    /// `account_import`, and which in calls of up to 100 through `multiaccount_import`.
    /// * A handful of new accounts go singly while the share lasts, each answered
    ///   with its own error code.
    /// * In a backlog, accounts asked for alone (`POST /accounts`) go singly while
    ///   account_import's share lasts, and the rest are coalesced into batches;
    ///   accounts asked for in bulk (a batch, an `import`) go in batches only, as
    ///   CONTRACT.md forwards batches, and leave account_import to single requests.
    /// * Accounts Tencent has or may have (`mayExistUpstream`: imported once, or
    ///   retried after an attempt that may have reached it) always need
    ///   multiaccount_import, the API that also sets a changed profile.
    static func plan(_ claims: [ImportDelivery.Claim], singles room: Int,
                     soloLimit: Int = 10) -> (singles: [ImportDelivery.Claim], batched: [ImportDelivery.Claim]) {
        var singles: [ImportDelivery.Claim] = []
        var batched: [ImportDelivery.Claim] = []
        let backlog = claims.count > soloLimit
        for claim in claims {
            if claim.account.mayExistUpstream || (backlog && claim.bulk) || singles.count >= room {
                batched.append(claim)
            } else {
                singles.append(claim)
            }
        }
        return (singles, batched)
    }

    /// Reserves slots for the set and starts its calls; what gets no slot within
    /// the horizon is given back at once, due when budget frees up. Returns how
    /// long to pause before claiming again.
    private func dispatch(_ claims: [ImportDelivery.Claim], singles room: Int, inFlight: InFlightCounter,
                          group: inout DiscardingTaskGroup) async -> Duration {
        var backoff = Duration.zero
        var (singles, batched) = Self.plan(claims, singles: room)
        if !singles.isEmpty {
            let grant = await delivery.importLimiter.reserve(singles.count, deadline: .now + permitHorizon)
            for (claim, slot) in zip(singles, grant.slots) {
                inFlight.add(1)
                // High priority: a slot missed by a busy host is budget lost.
                group.addTask(priority: .high) {
                    await delivery.deliver(claim, at: slot)
                    inFlight.add(-1)
                }
            }
            // What account_import cannot take goes to the batch budget instead.
            batched = Array(singles.dropFirst(grant.slots.count)) + batched
        }
        let chunks = stride(from: 0, to: batched.count, by: ImportDelivery.maxBatchCall).map {
            Array(batched[$0..<min($0 + ImportDelivery.maxBatchCall, batched.count)])
        }
        var granted = 0
        if !chunks.isEmpty {
            let grant = await delivery.batchLimiter.reserve(chunks.count, deadline: .now + permitHorizon)
            for (chunk, slot) in zip(chunks, grant.slots) {
                inFlight.add(chunk.count)
                group.addTask(priority: .high) {
                    await delivery.deliverChunk(chunk, at: slot)
                    inFlight.add(-chunk.count)
                }
            }
            granted = grant.slots.count
            if granted < chunks.count {
                await delivery.giveBack(Array(chunks.dropFirst(granted).joined()), dueIn: grant.retryAfter)
                backoff = min(grant.retryAfter, permitHorizon / 2)
            }
        }
        return backoff
    }
}

