import Foundation
import Logging

/// This replica's door to the central budget of one upstream API. Callers
/// queue first come, first served; whoever is waiting when a reservation goes
/// out shares it, so one database round trip serves many calls. A caller
/// waits at most until its deadline: past that it is told when to come back
/// and the import stays pending.
actor RateLimiter {
    /// The answer to one `acquire`.
    struct Grant: Sendable, Equatable {
        /// Reached: the call may go out now.
        var permitted: Bool
        /// When not permitted: when a slot may be free again.
        var retryAfter: Duration
    }

    private struct Waiter {
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Slot, Never>
    }

    private enum Slot {
        case at(ContinuousClock.Instant)
        case denied(retryAfter: Duration)
    }

    let api: String
    /// Calls per second this replica asks for: the configured rate times the headroom.
    let rate: Double
    let store: RateLimitStore
    let metrics: GatewayMetrics
    let logger: Logger
    /// Slots per database round trip at most.
    let maxBatch: Int

    private var queue: [Waiter] = []
    private var reserving = false

    /// The limiter aims this share of the configured rate: network jitter
    /// between a slot and the call's arrival at Tencent must never make
    /// Tencent count more than its limit in any second.
    static let headroom = 0.98

    init(api: String, configuredRate: Int, store: RateLimitStore, metrics: GatewayMetrics, logger: Logger, maxBatch: Int = 64) {
        self.api = api
        self.rate = Double(configuredRate) * Self.headroom
        self.store = store
        self.metrics = metrics
        self.logger = logger
        self.maxBatch = maxBatch
        metrics.rateLimitBudget(api: api, callsPerSecond: rate)
    }

    /// Waits for a call slot until `deadline` at most.
    func acquire(deadline: ContinuousClock.Instant) async -> Grant {
        let started = ContinuousClock.now
        let slot = await withCheckedContinuation { continuation in
            queue.append(Waiter(deadline: deadline, continuation: continuation))
            if !reserving {
                reserving = true
                Task { await self.reserveForQueue() }
            }
        }
        switch slot {
        case .at(let instant):
            try? await Task.sleep(until: instant, clock: .continuous)
            metrics.rateLimitWait(.now - started, api: api)
            return Grant(permitted: true, retryAfter: .zero)
        case .denied(let retryAfter):
            return Grant(permitted: false, retryAfter: retryAfter)
        }
    }

    /// Tencent still answered "too fast": slow every replica down.
    func reportRateLimited() async {
        do { try await store.slowDown(api: api) } catch {
            logger.warning("could not slow the central rate limit down", metadata: ["upstream.api": "\(api)", "error": "\(error)"])
        }
    }

    /// Tencent answered 70050: stop calling for a minute, all replicas.
    func reportLockout(seconds: Int = 60) async {
        do { try await store.pause(api: api, seconds: seconds) } catch {
            logger.error("could not pause the central rate limit", metadata: ["upstream.api": "\(api)", "error": "\(error)"])
        }
    }

    /// Serves the queue in order until it is empty.
    private func reserveForQueue() async {
        while !queue.isEmpty {
            let now = ContinuousClock.now
            denyWaiters(retryAfter: .zero) { $0.deadline <= now }
            guard !queue.isEmpty else { break }
            let count = min(queue.count, maxBatch)
            // Every slot of the run must be reachable by every waiter it may go to.
            let maxWait = queue.prefix(count).map { $0.deadline - now }.min() ?? .zero
            do {
                let reservation = try await store.reserve(api: api, rate: rate, count: count, maxWait: maxWait)
                let received = ContinuousClock.now
                metrics.rateLimitReservation(api: api, granted: reservation.granted, factor: reservation.factor,
                                             reservedAhead: reservation.nextFree)
                // Offsets count from the database's "now", which was before `received`:
                // sending later than planned is safe, earlier never happens.
                for index in 0..<reservation.granted {
                    let waiter = queue.removeFirst()
                    waiter.continuation.resume(returning: .at(received + reservation.firstOffset + reservation.spacing * index))
                }
                if reservation.granted < count {
                    let nextFree = received + reservation.nextFree
                    denyWaiters(retryAfter: reservation.nextFree) { $0.deadline < nextFree }
                }
            } catch {
                logger.warning("central rate limit unreachable; calls wait", metadata: ["upstream.api": "\(api)", "error": "\(error)"])
                denyWaiters(retryAfter: .seconds(1)) { _ in true }
            }
        }
        reserving = false
    }

    private func denyWaiters(retryAfter: Duration, where shouldDeny: (Waiter) -> Bool) {
        var kept: [Waiter] = []
        for waiter in queue {
            if shouldDeny(waiter) {
                waiter.continuation.resume(returning: .denied(retryAfter: retryAfter))
            } else {
                kept.append(waiter)
            }
        }
        queue = kept
    }
}
