import Foundation
import Logging
import Synchronization

/// Runs in every replica: picks up pending imports that are due — retries,
/// 202s whose request gave up waiting, imports left behind by a crashed
/// replica — and delivers them, keeping up to `maxInFlight` under way so the
/// central budget can be used to the last call.
struct ImportWorker: Sendable {
    let delivery: ImportDelivery
    let logger: Logger
    var batchSize = 32
    var maxInFlight = 96
    /// How far ahead a claimed import may wait for budget; beyond, it is given
    /// back so a dying replica never sits on much of the shared budget.
    var permitHorizon: Duration = .seconds(1)
    var idleInterval: Duration = .milliseconds(100)
    var errorInterval: Duration = .seconds(1)

    /// Runs until the task is cancelled.
    func run() async {
        logger.info("import worker started", metadata: ["worker.owner": "\(delivery.owner)"])
        let inFlight = InFlightCounter()
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let free = maxInFlight - inFlight.value
                if free <= 0 {
                    try? await Task.sleep(for: .milliseconds(10))
                    continue
                }
                // Claim only what the shared budget can serve soon: claims given back
                // unattempted cost round trips and churn the table for nothing.
                let servable = await delivery.importLimiter.grantableSoon(within: permitHorizon)
                if servable == 0 {
                    try? await Task.sleep(for: .milliseconds(20))
                    continue
                }
                do {
                    let claims = try await delivery.claimDue(limit: min(free, batchSize, servable))
                    if claims.isEmpty {
                        try? await Task.sleep(for: idleInterval)
                        continue
                    }
                    // One reservation per API for the whole batch; what gets no slot
                    // within the horizon is given back at once, due when budget frees up.
                    var backoff = Duration.zero
                    let batches = [
                        (delivery.importLimiter, claims.filter { !$0.account.upstreamExists }),
                        (delivery.batchLimiter, claims.filter { $0.account.upstreamExists }),
                    ]
                    for (limiter, batch) in batches where !batch.isEmpty {
                        let grant = await limiter.reserve(batch.count, deadline: .now + permitHorizon)
                        inFlight.add(grant.slots.count)
                        for (claim, slot) in zip(batch, grant.slots) {
                            // High priority: a slot missed by a busy host is budget lost.
                            group.addTask(priority: .high) {
                                await delivery.deliver(claim, at: slot)
                                inFlight.add(-1)
                            }
                        }
                        if grant.slots.count < batch.count {
                            await delivery.giveBack(Array(batch.dropFirst(grant.slots.count)), dueIn: grant.retryAfter)
                            backoff = max(backoff, min(grant.retryAfter, permitHorizon / 2))
                        }
                    }
                    if backoff > .zero { try? await Task.sleep(for: backoff) }
                } catch {
                    logger.warning("import worker cannot claim pending imports", metadata: ["error": "\(error)"])
                    try? await Task.sleep(for: errorInterval)
                }
            }
        }
        logger.info("import worker stopped")
    }
}

/// A count shared by the worker loop and its delivery tasks.
final class InFlightCounter: Sendable {
    private let count = Atomic<Int>(0)

    var value: Int { count.load(ordering: .relaxed) }

    func add(_ delta: Int) {
        count.wrappingAdd(delta, ordering: .relaxed)
    }
}
