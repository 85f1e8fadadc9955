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
/// in batches only. Batched claims wait in a `BatchQueue`, and each batch call
/// takes what is queued when its slot comes (`sendBatches`), so calls are as
/// full as the backlog allows. Under a backlog of single requests the two
/// budgets work together: 200 calls/s of one account plus 100 calls/s of 100.
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
        // Accounts in calls under way; those queued for a batch call are counted apart.
        let inFlight = InFlightCounter()
        let queue = delivery.batchQueue
        queue.open()
        await withDiscardingTaskGroup { group in
            group.addTask { await sendBatches(from: queue, inFlight: inFlight) }
            // Wherever deliveries run (`serve`, `import`), none waits on its way out
            // for a read of the breaker: that wait would come after its slot.
            group.addTask { await delivery.breaker.keepFresh() }
            while !Task.isCancelled {
                let free = maxInFlight - inFlight.value - queue.count
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
                // Singles only as far ahead as a batch call could carry them instead.
                let singlesHorizon = delivery.singleCallDeadline(before: .now + permitHorizon) - .now
                let singles = delivery.importLimiter.grantableSoon(within: singlesHorizon)
                let batches = delivery.batchLimiter.grantableSoon(within: permitHorizon)
                let batchRoom = max(0, batches * ImportDelivery.maxBatchCall - queue.count)
                let servable = probeOnly ? min(free, 1) : min(free, claimLimit, singles + batchRoom)
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
                    await dispatch(claims, singles: singles, queue: queue, inFlight: inFlight, group: &group)
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

    /// Reserves account_import slots for the singles and starts their calls, and
    /// queues the rest for `sendBatches`. Singles that get no slot within the
    /// horizon are queued for the batch budget instead.
    private func dispatch(_ claims: [ImportDelivery.Claim], singles room: Int, queue: BatchQueue,
                          inFlight: InFlightCounter, group: inout DiscardingTaskGroup) async {
        var (singles, batched) = Self.plan(claims, singles: room)
        if !singles.isEmpty {
            let grant = await delivery.importLimiter.reserve(singles.count, deadline: delivery.singleCallDeadline(before: .now + permitHorizon))
            for (claim, slot) in zip(singles, grant.slots) {
                inFlight.add(1)
                // High priority: a slot missed by a busy host is budget lost.
                group.addTask(priority: .high) {
                    await delivery.deliver(claim, at: slot)
                    inFlight.add(-1)
                }
            }
            batched = Array(singles.dropFirst(grant.slots.count)) + batched
        }
        if !queue.offer(batched) { await delivery.giveBack(batched, dueIn: .zero) }
    }

    /// Sends what is queued through multiaccount_import: reserves as many slots
    /// of the batch budget as the queue fills calls, and at each slot takes up
    /// to 100 of the oldest queued claims, however many joined since. When no
    /// slot is free within the horizon (other replicas hold the budget, or
    /// Tencent's lock-out paused it), the queue is given back, due when budget
    /// is expected to free up.
    private func sendBatches(from queue: BatchQueue, inFlight: InFlightCounter) async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let queued = queue.count
                guard queued > 0 else {
                    await queue.arrived.wait(timeout: idleInterval)
                    continue
                }
                let calls = (queued + ImportDelivery.maxBatchCall - 1) / ImportDelivery.maxBatchCall
                let grant = await delivery.batchLimiter.reserve(calls, deadline: .now + permitHorizon)
                if grant.slots.isEmpty {
                    await delivery.giveBack(queue.takeAll(), dueIn: grant.retryAfter)
                    try? await Task.sleep(for: min(max(grant.retryAfter, .milliseconds(1)), permitHorizon / 2))
                    continue
                }
                for slot in grant.slots {
                    guard await RateLimiter.waitFor(slot) else {
                        if Task.isCancelled { break }
                        // Missed (a busy host): the claims stay queued for the next slot.
                        delivery.metrics.rateLimitLateSlot(api: delivery.batchLimiter.api.rawValue)
                        continue
                    }
                    let chunk = queue.take(ImportDelivery.maxBatchCall)
                    guard !chunk.isEmpty else { break }
                    inFlight.add(chunk.count)
                    group.addTask(priority: .high) {
                        await delivery.deliverChunk(chunk, slot: slot)
                        inFlight.add(-chunk.count)
                    }
                }
            }
            // Stopping: what is queued is due again at once, for whichever replica runs on.
            await delivery.giveBack(queue.close(), dueIn: .zero)
        }
    }
}
