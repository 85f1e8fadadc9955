import Foundation
import Logging
import Synchronization

/// This replica's door to the central budget of one upstream API. Callers
/// queue first come, first served; whoever is waiting when a reservation goes
/// out shares it, so one database round trip serves many calls. A caller
/// waits at most until its deadline: past that it is told when to come back
/// and the import stays pending.
actor RateLimiter {
    /// Call slots for one caller, in order, on this replica's clock.
    struct Grant: Sendable {
        var slots: [ContinuousClock.Instant]
        /// When fewer slots than asked were granted: when budget may be free again.
        var retryAfter: Duration
    }

    private struct Waiter {
        var count: Int
        var deadline: ContinuousClock.Instant
        var continuation: CheckedContinuation<Grant, Never>
    }

    let api: UpstreamReply.API
    /// Calls per second this replica asks for: the configured rate times the headroom.
    let rate: Double
    let store: RateLimitStore
    let metrics: GatewayMetrics
    let logger: Logger
    /// Slots per database round trip at most.
    let maxBatch: Int

    private var queue: [Waiter] = []
    private var reserving = false
    private var clock = ClockMapping()
    /// The latest slot handed out. A better clock sample moves the mapping (the
    /// first samples, taken while a connection opens or a busy host resumes late,
    /// can be off by milliseconds); slots mapped after such a move keep at least
    /// the database's spacing from those mapped before it instead of crowding them.
    private var lastSlot: ContinuousClock.Instant?
    /// When the last reservation said the shared budget frees up, and when it
    /// said so. Read without entering the actor: the request path asks on
    /// every request, and an actor hop there is a wake-up on another thread.
    private let lastNextFree = Mutex<(said: ContinuousClock.Instant, nextFree: ContinuousClock.Instant)?>(nil)

    /// The limiter aims this share of the configured rate, and a call that
    /// cannot go out within `lateness` of its slot does not go out at all:
    /// together they keep Tencent's count within its limit in every second
    /// despite scheduling jitter (see docs/RATE_LIMITING.md).
    static let headroom = 0.97
    static let lateness: Duration = .milliseconds(12)
    /// multiaccount_import calls carry up to 100 accounts: their send and arrival
    /// times vary more than a single import's, so they keep a wider margin (50 ms a second).
    static let batchHeadroom = 0.95

    init(api: UpstreamReply.API, configuredRate: Int, store: RateLimitStore, metrics: GatewayMetrics, logger: Logger, maxBatch: Int = 64,
         headroom: Double = RateLimiter.headroom) {
        self.api = api
        self.rate = Double(configuredRate) * headroom
        self.store = store
        self.metrics = metrics
        self.logger = logger
        self.maxBatch = maxBatch
        metrics.rateLimitBudget(api: api.rawValue, callsPerSecond: rate)
    }

    /// Up to `count` call slots no later than `deadline`, earliest first; fewer
    /// (possibly none) when the shared budget is taken that far ahead.
    func reserve(_ count: Int, deadline: ContinuousClock.Instant) async -> Grant {
        await withCheckedContinuation { continuation in
            queue.append(Waiter(count: max(1, min(count, maxBatch)), deadline: deadline, continuation: continuation))
            if !reserving {
                reserving = true
                Task { await self.reserveForQueue() }
            }
        }
    }

    /// What the last reservation said, if it is under a second old.
    private nonisolated var recentReservation: (said: ContinuousClock.Instant, nextFree: ContinuousClock.Instant)? {
        guard let last = lastNextFree.withLock({ $0 }), ContinuousClock.now - last.said < .seconds(1) else { return nil }
        return last
    }

    /// Whether a call asked for now could get a slot before `deadline`, as far as
    /// the last reservation (under a second old) tells; unknown counts as yes.
    nonisolated func mayServe(before deadline: ContinuousClock.Instant) -> Bool {
        guard let last = recentReservation else { return true }
        return last.nextFree <= deadline
    }

    /// When the next free slot is, as the last reservation (under a second old)
    /// tells; unknown counts as now.
    nonisolated var nextFree: ContinuousClock.Instant {
        max(recentReservation?.nextFree ?? .now, .now)
    }

    /// About how many slots a reservation now would get within `horizon`, as
    /// the last reservation (under a second old) tells; unknown counts as a full batch.
    nonisolated func grantableSoon(within horizon: Duration) -> Int {
        guard let last = recentReservation else { return maxBatch }
        let room = (ContinuousClock.now + horizon - last.nextFree).seconds
        return max(0, min(maxBatch, Int(room * rate)))
    }

    /// How long until `grantableSoon(within: horizon)` can be more than zero, as the
    /// last reservation told (zero when unknown or already so).
    nonisolated func timeUntilGrantable(within horizon: Duration) -> Duration {
        guard let last = recentReservation else { return .zero }
        return max(.zero, last.nextFree - horizon - ContinuousClock.now)
    }

    /// Whole seconds until the shared budget is free for a new call, as the last
    /// reservation told (1 to 60): the `Retry-After` of a 202.
    nonisolated func secondsUntilFree() -> Int {
        guard let last = lastNextFree.withLock({ $0 }) else { return 1 }
        let wait = (last.nextFree - ContinuousClock.now).seconds
        return min(60, max(1, Int(wait.rounded(.up))))
    }

    /// A reservation some other statement made on this limiter's behalf (the
    /// insert of a new account reserves its call's slot in the same round trip),
    /// with the local moments its statement was sent and answered.
    struct Reserved: Sendable {
        var reservation: RateLimitReservation
        var sent: ContinuousClock.Instant
        var received: ContinuousClock.Instant
    }

    /// Whether another statement may reserve for this limiter (`Reserved`): only
    /// when the budget lives in PostgreSQL, where that statement runs.
    nonisolated var reservesInPostgres: Bool { store is PostgresRateLimitStore }

    /// One call: waits for its slot until `deadline`; true when the call may go out now.
    /// A slot this replica woke up too late for (a busy host) is lost, and another
    /// one is reserved while the deadline allows. `reserved`: the first slot was
    /// reserved already, by the statement that claimed the account.
    func acquire(deadline: ContinuousClock.Instant, reserved: Reserved? = nil) async -> Permit {
        let started = reserved?.received ?? ContinuousClock.now
        var first = reserved.map { adopt($0) }
        while true {
            let grant: Grant
            if let taken = first {
                grant = taken
                first = nil
            } else {
                grant = await reserve(1, deadline: deadline)
            }
            guard let slot = grant.slots.first else { return Permit(slot: nil, retryAfter: grant.retryAfter) }
            if await Self.waitFor(slot) {
                metrics.rateLimitWait(.now - started, api: api.rawValue)
                return Permit(slot: slot, retryAfter: .zero)
            }
            metrics.rateLimitLateSlot(api: api.rawValue)
            if Task.isCancelled || ContinuousClock.now >= deadline { return Permit(slot: nil, retryAfter: .zero) }
        }
    }

    /// One call's slot, or when there is none, when to come back.
    struct Permit: Sendable {
        /// The slot the call goes out in: check `isUsable` again right before sending.
        var slot: ContinuousClock.Instant?
        var retryAfter: Duration
        var permitted: Bool { slot != nil }
    }

    /// Whether a call may still go out in `slot`: no more than `lateness` after it.
    /// Checked when the slot comes, and again by the delivery right before the
    /// request leaves, after whatever it awaited in between (the breaker, a thread
    /// of a busy pool): a call that leaves late crowds the calls of the next slots.
    nonisolated static func isUsable(_ slot: ContinuousClock.Instant) -> Bool {
        ContinuousClock.now - slot <= lateness
    }

    /// Sleeps until the slot; false when it wakes too late to use it, or was cancelled (shutdown).
    nonisolated static func waitFor(_ slot: ContinuousClock.Instant) async -> Bool {
        // A slot already begun needs no timer (and no wake-up on another thread).
        let now = ContinuousClock.now
        if slot <= now { return !Task.isCancelled && isUsable(slot) }
        do {
            try await Task.sleep(until: slot, clock: .continuous)
        } catch {
            return false
        }
        return isUsable(slot)
    }

    /// Tencent still answered "too fast": slow every replica down, on every API
    /// (Tencent's frequency control concerns the app).
    func reportRateLimited() async {
        do { try await store.slowDownAll() } catch {
            logger.warning("could not slow the central rate limit down", metadata: ["upstream.api": "\(api.rawValue)"].adding(error))
        }
    }

    /// Tencent answered 70050: stop calling any API for a minute, all replicas
    /// (the lock-out at Tencent covers the whole app).
    func reportLockout(seconds: Int = 60) async {
        do { try await store.pauseAll(seconds: seconds) } catch {
            logger.error("could not pause the central rate limit", metadata: ["upstream.api": "\(api.rawValue)"].adding(error))
        }
    }

    /// Serves the queue in order until it is empty.
    private func reserveForQueue() async {
        while !queue.isEmpty {
            let now = ContinuousClock.now
            deny(retryAfter: .zero) { $0.deadline <= now }
            guard !queue.isEmpty else { break }
            // Waiters from the front, as many as one round trip may serve.
            var taken = 0
            var total = 0
            for waiter in queue {
                guard total + waiter.count <= maxBatch || taken == 0 else { break }
                taken += 1
                total += waiter.count
            }
            // Every slot of the run must be usable by whichever waiter it goes to.
            let maxWait = queue.prefix(taken).map { $0.deadline - now }.min() ?? .zero
            do {
                let sent = ContinuousClock.now
                let reservation = try await store.reserve(api: api.rawValue, rate: rate, count: total, maxWait: maxWait)
                let received = ContinuousClock.now
                let granted = slots(of: Reserved(reservation: reservation, sent: sent, received: received))
                let nextFree = received + reservation.nextFree
                var assigned = 0
                for _ in 0..<taken where assigned < reservation.granted {
                    let waiter = queue.removeFirst()
                    let slots = Array(granted[assigned..<min(assigned + waiter.count, reservation.granted)])
                    assigned += slots.count
                    waiter.continuation.resume(returning: Grant(slots: slots, retryAfter: slots.count < waiter.count ? reservation.nextFree : .zero))
                }
                if reservation.granted < total {
                    deny(retryAfter: reservation.nextFree) { $0.deadline < nextFree }
                }
            } catch {
                logger.warning("central rate limit unreachable; calls wait", metadata: ["upstream.api": "\(api.rawValue)"].adding(error))
                deny(retryAfter: .seconds(1)) { _ in true }
            }
        }
        reserving = false
    }

    /// A reservation's slots on this replica's clock; notes what it tells about
    /// the database's clock and the budget ahead.
    private func slots(of reserved: Reserved) -> [ContinuousClock.Instant] {
        let (reservation, sent, received) = (reserved.reservation, reserved.sent, reserved.received)
        clock.record(databaseMicroseconds: reservation.databaseNowMicroseconds, sent: sent, received: received)
        metrics.rateLimitReservation(api: api.rawValue, granted: reservation.granted, factor: reservation.factor,
                                     reservedAhead: reservation.nextFree)
        lastNextFree.withLock { $0 = (received, received + reservation.nextFree) }
        let first = reservation.databaseNowMicroseconds + Double(reservation.firstOffset.microseconds)
        let spacing = Double(reservation.spacing.microseconds)
        return (0..<reservation.granted).map { index in
            // Never before the moment the database reserved it, as far as this replica can tell,
            // nor closer to the slot before it than the database spaced them.
            let earliest = max(sent, lastSlot.map { $0 + reservation.spacing } ?? sent)
            let slot = max(clock.local(first + spacing * Double(index)) ?? received, earliest)
            lastSlot = slot
            return slot
        }
    }

    /// A reservation made by another statement, as the grant of one call.
    private func adopt(_ reserved: Reserved) -> Grant {
        let slots = slots(of: reserved)
        return Grant(slots: Array(slots.prefix(1)), retryAfter: slots.isEmpty ? reserved.reservation.nextFree : .zero)
    }

    private func deny(retryAfter: Duration, where shouldDeny: (Waiter) -> Bool) {
        var kept: [Waiter] = []
        for waiter in queue {
            if shouldDeny(waiter) {
                waiter.continuation.resume(returning: Grant(slots: [], retryAfter: retryAfter))
            } else {
                kept.append(waiter)
            }
        }
        queue = kept
    }
}
