import Foundation
import Logging
import PostgresClient
import Testing
@testable import Gateway

/// The limiter's arithmetic, on the real database with an injected clock (`p_now`).
@Suite struct RateLimitArithmeticTests {
    func reserve(_ pool: PostgresPool, rate: Double, count: Int, maxWaitMs: Int, at now: String) async throws -> (granted: Int, first: Double, spacing: Double, next: Double, factor: Double) {
        let row = try await pool.query("""
            SELECT * FROM rate_limit_reserve('account_import', \(rate), \(count)::integer, \(maxWaitMs)::integer, \(now)::timestamptz)
            """).rows[0]
        return (try row.int("granted"), try row.double("first_offset_us"), try row.double("spacing_us"),
                try row.double("next_free_us"), try row.double("factor"))
    }

    @Test func slotsAreSpacedAtTheRateAndNeverBeyondTheWait() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        let t0 = "2030-01-01 00:00:00+00"
        let a = try await reserve(pool, rate: 200, count: 10, maxWaitMs: 1000, at: t0)
        #expect(a.granted == 10 && a.first == 0 && a.spacing == 5000 && a.next == 50_000)
        // The same instant: the run continues where the last ended, up to the 1 s wait.
        let b = try await reserve(pool, rate: 200, count: 500, maxWaitMs: 1000, at: t0)
        #expect(b.granted == 191 && b.first == 50_000 && b.next == 1_005_000)
        // Nothing fits within 100 ms now: denied, told when the next slot is.
        let c = try await reserve(pool, rate: 200, count: 1, maxWaitMs: 100, at: t0)
        #expect(c.granted == 0 && c.next == 1_005_000)
        // 201 slots in [t0, t0 + 1 s]: any half-open 1-second window holds at most 200.
        #expect(a.granted + b.granted == 201)
        // Time passes: an idle budget does not accumulate a burst.
        let d = try await reserve(pool, rate: 200, count: 5, maxWaitMs: 0, at: "2030-01-01 00:00:10+00")
        #expect(d.granted == 1 && d.first == 0)
        await pool.close()
        await database.drop()
    }

    @Test func slowDownHalvesForEveryoneAndRecovers() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        _ = try await pool.query("SELECT rate_limit_slow_down('account_import', '2030-01-01 00:00:00+00')")
        // A second report within the same second does not halve again.
        _ = try await pool.query("SELECT rate_limit_slow_down('account_import', '2030-01-01 00:00:00.5+00')")
        let slowed = try await reserve(pool, rate: 200, count: 1, maxWaitMs: 1000, at: "2030-01-01 00:00:00+00")
        #expect(slowed.factor == 0.5 && slowed.spacing == 10_000)
        let recovering = try await reserve(pool, rate: 200, count: 1, maxWaitMs: 1000, at: "2030-01-01 00:00:02+00")
        #expect(abs(recovering.factor - 0.7) < 1e-9)
        let recovered = try await reserve(pool, rate: 200, count: 1, maxWaitMs: 1000, at: "2030-01-01 00:00:10+00")
        #expect(recovered.factor == 1 && recovered.spacing == 5000)
        await pool.close()
        await database.drop()
    }

    @Test func pauseStopsEveryoneForItsDuration() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        _ = try await pool.query("SELECT rate_limit_pause('account_import', 60)")
        let row = try await pool.query("""
            SELECT granted, next_free_us FROM rate_limit_reserve('account_import', 200, 1, 3000)
            """).rows[0]
        #expect(try row.int("granted") == 0)
        #expect(try row.double("next_free_us") > 59_000_000)
        await pool.close()
        await database.drop()
    }

    /// 70050 locks the whole app out at Tencent: every API stops, `reconcile`'s account_check included.
    @Test func aLockoutPausesEveryAPI() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        try await PostgresRateLimitStore(pool: pool).pauseAll(seconds: 60)
        for api in ["account_import", "multiaccount_import", "account_check"] {
            let row = try await pool.query("SELECT granted, next_free_us FROM rate_limit_reserve(\(api), 100, 1, 3000)").rows[0]
            #expect(try row.int("granted") == 0, "\(api) still granted a call")
            #expect(try row.double("next_free_us") > 59_000_000)
        }
        await pool.close()
        await database.drop()
    }

    @Test func tooFastSlowsEveryAPI() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        try await PostgresRateLimitStore(pool: pool).slowDownAll()
        for api in ["account_import", "multiaccount_import", "account_check"] {
            let row = try await pool.query("SELECT factor FROM rate_limit_reserve(\(api), 100, 1, 3000)").rows[0]
            #expect(try row.double("factor") < 0.6, "\(api) was not slowed down")
        }
        await pool.close()
        await database.drop()
    }
}

/// The queueing in front of the database, with a fake store.
@Suite struct RateLimiterQueueTests {
    /// Grants slots at a fixed spacing from a moving "tat", like the SQL function.
    final class FakeStore: RateLimitStore, @unchecked Sendable {
        // Guarded by `lock`.
        private var tat: ContinuousClock.Instant = .now
        private(set) var calls: [(count: Int, maxWait: Duration)] = []
        private let lock = NSLock()
        let spacing: Duration
        var failing = false
        /// How long a reservation's round trip takes (callers arriving meanwhile queue up for the next one).
        var roundTrip = Duration.zero
        /// Replies to this many reservations arrive this late (a busy host): their first slot has passed.
        var lateReplies = (count: 0, by: Duration.zero)
        /// The fake database's clock: microseconds since it was made.
        private let epoch = ContinuousClock.now

        init(spacing: Duration) { self.spacing = spacing }

        func reserve(api: String, rate: Double, count: Int, maxWait: Duration) async throws -> RateLimitReservation {
            if roundTrip > .zero { try await Task.sleep(for: roundTrip) }
            let (reservation, late) = try reserveNow(count: count, maxWait: maxWait)
            if late > .zero { try await Task.sleep(for: late) }
            return reservation
        }

        private func reserveNow(count: Int, maxWait: Duration) throws -> (RateLimitReservation, Duration) {
            try lock.withLock {
                var late = Duration.zero
                if lateReplies.count > 0 {
                    lateReplies.count -= 1
                    late = lateReplies.by
                }
                if failing { throw PostgresError.decoding(column: "x", message: "down") }
                calls.append((count, maxWait))
                let now = ContinuousClock.now
                let start = max(tat, now)
                let lead = start - now
                var granted = 0
                while granted < count && lead + spacing * granted <= maxWait { granted += 1 }
                tat = start + spacing * granted
                let (seconds, attoseconds) = (now - epoch).components
                return (RateLimitReservation(granted: granted, firstOffset: lead, spacing: spacing,
                                             nextFree: lead + spacing * granted, factor: 1,
                                             databaseNowMicroseconds: Double(seconds) * 1e6 + Double(attoseconds) / 1e12), late)
            }
        }
        func slowDownAll() async throws {}
        func pauseAll(seconds: Int) async throws {}
    }

    func limiter(_ store: FakeStore, metrics: GatewayMetrics = GatewayMetrics()) -> RateLimiter {
        RateLimiter(api: .accountImport, configuredRate: 100, store: store, metrics: metrics, logger: TestLogger.make())
    }

    /// Slots a limiter woke up too late for (each replaced by another reservation).
    func lateSlots(_ metrics: GatewayMetrics) -> Int {
        let text = String(decoding: metrics.render(), as: UTF8.self)
        let line = text.split(separator: "\n").first { $0.hasPrefix("gateway_rate_limit_late_slots_total{") }
        return line.flatMap { $0.split(separator: " ").last }.flatMap { Int($0) } ?? 0
    }

    @Test func concurrentCallersShareOneRoundTripAndArePacedInOrder() async throws {
        let store = FakeStore(spacing: .milliseconds(20))
        store.roundTrip = .milliseconds(5)
        let metrics = GatewayMetrics()
        let limiter = limiter(store, metrics: metrics)
        let deadline = ContinuousClock.now + .seconds(5)
        let times = await withTaskGroup(of: ContinuousClock.Instant.self) { group in
            for _ in 0..<10 {
                group.addTask {
                    let grant = await limiter.acquire(deadline: deadline)
                    #expect(grant.permitted)
                    return .now
                }
            }
            return await group.reduce(into: []) { $0.append($1) }.sorted()
        }
        // 10 calls, 20 ms apart: the last one 180 ms after the first, less the lateness a
        // call may go out with (the first may leave up to that late, the last on time).
        #expect(times.last! - times.first! >= .milliseconds(180) - RateLimiter.lateness)
        // Batched: a few round trips for ten callers, plus one for each slot a busy host woke up too late for.
        #expect(store.calls.count <= 3 + lateSlots(metrics), "batched: \(store.calls.map(\.count))")
    }

    @Test func aCallerPastItsDeadlineIsToldWhenToComeBack() async throws {
        let store = FakeStore(spacing: .milliseconds(100))
        let limiter = limiter(store)
        let long = ContinuousClock.now + .seconds(5)
        for _ in 0..<5 { #expect(await limiter.acquire(deadline: long).permitted) }
        let started = ContinuousClock.now
        let denied = await limiter.acquire(deadline: .now + .milliseconds(50))
        #expect(!denied.permitted)
        #expect(denied.retryAfter > .milliseconds(50))
        #expect(ContinuousClock.now - started < .milliseconds(100), "denied at once, not after waiting")
    }

    @Test func multiSlotReservationsComeInOrderAndPartially() async throws {
        let store = FakeStore(spacing: .milliseconds(100))
        let limiter = limiter(store)
        let grant = await limiter.reserve(10, deadline: .now + .milliseconds(450))
        #expect(grant.slots.count == 5)
        #expect(zip(grant.slots, grant.slots.dropFirst()).allSatisfy { $1 - $0 >= .milliseconds(99) })
        #expect(grant.retryAfter >= .milliseconds(450))
    }

    /// The first reservation's reply comes 60 ms late (a connection opening, a busy
    /// host), so its clock sample places the database's slots up to 30 ms later than
    /// they are; the next reservation's quick reply corrects the mapping. The slots
    /// mapped after the correction must not crowd those handed out before it: at
    /// Tencent that is more calls in one second than the limit.
    @Test func aBetterClockSampleDoesNotCrowdSlotsAlreadyHandedOut() async {
        let store = FakeStore(spacing: .milliseconds(20))
        store.lateReplies = (1, .milliseconds(60))
        let limiter = limiter(store)
        let before = await limiter.reserve(3, deadline: .now + .seconds(5))
        let after = await limiter.reserve(3, deadline: .now + .seconds(5))
        #expect(before.slots.count == 3 && after.slots.count == 3)
        let slots = before.slots + after.slots
        let gaps = zip(slots, slots.dropFirst()).map { $1 - $0 }
        // (A microsecond of slack: slots are database microseconds, as Doubles, on this replica's clock.)
        #expect(gaps.allSatisfy { $0 >= .milliseconds(20) - .microseconds(1) }, "gaps: \(gaps)")
    }

    @Test func aLateSlotIsNotUsed() async {
        #expect(await RateLimiter.waitFor(.now - .milliseconds(50)) == false)
        #expect(await RateLimiter.waitFor(.now + .milliseconds(5)) == true)
    }

    /// The worker sleeps until the budget frees up instead of polling: how long, as the last reservation told.
    @Test func timeUntilTheBudgetIsGrantableAgain() async throws {
        let store = FakeStore(spacing: .milliseconds(100))
        let limiter = limiter(store)
        #expect(limiter.timeUntilGrantable(within: .seconds(1)) == .zero)  // nothing known yet
        let grant = await limiter.reserve(20, deadline: .now + .seconds(3))
        #expect(grant.slots.count == 20)  // the budget is taken 2 s ahead
        let wait = limiter.timeUntilGrantable(within: .milliseconds(500))
        #expect(wait > .milliseconds(1_300) && wait <= .milliseconds(1_500))
        #expect(limiter.grantableSoon(within: .milliseconds(500)) == 0)
    }

    /// A slot woken up for too late is not used, but the call is not given up
    /// either: another slot is reserved while its deadline allows.
    @Test func aLateSlotIsReplacedBeforeTheDeadline() async throws {
        let store = FakeStore(spacing: .milliseconds(10))
        store.lateReplies = (1, .milliseconds(60))
        let grant = await limiter(store).acquire(deadline: .now + .seconds(5))
        #expect(grant.permitted)
        #expect(store.calls.count == 2)
    }

    @Test func anUnreachableDatabaseDeniesInsteadOfHanging() async throws {
        let store = FakeStore(spacing: .milliseconds(10))
        store.failing = true
        let grant = await limiter(store).acquire(deadline: .now + .seconds(5))
        #expect(!grant.permitted && grant.retryAfter == .seconds(1))
    }
}

/// Several replicas, one budget: the window property against the real database and sandbox.
@Suite struct CentralRateLimitIntegrationTests {
    @Test func threeReplicasNeverExceedTheRateInAnySecond() async throws {
        var options = GatewayHarness.Options()
        options.importRate = 40
        try await GatewayHarness.with(options) { h in
            // A backlog of 200 pending imports (5 s of budget), as a burst of 202s would leave.
            _ = try await h.pool.query("""
                INSERT INTO accounts (user_id, chat_user_id, status, next_attempt_at)
                SELECT 'burst_' || i, 'burst_' || i, 'pending', now() FROM generate_series(1, 200) AS i
                """)
            let others = try [h.replica("replica-b"), h.replica("replica-c")]
            let started = ContinuousClock.now
            let workers = ([h.app] + others.map(\.app)).map { app in Task { await app.runWorker() } }
            var pending = 200
            while pending > 0 && ContinuousClock.now - started < .seconds(30) {
                try await Task.sleep(for: .milliseconds(200))
                pending = try await h.pool.query("SELECT count(*) AS n FROM accounts WHERE status = 'pending'").rows[0].int("n")
            }
            let elapsed = ContinuousClock.now - started
            workers.forEach { $0.cancel() }
            for worker in workers { await worker.value }
            for other in others { await other.pool.close() }

            let stats = h.sandbox.stats()
            #expect(pending == 0)
            #expect(stats.maxCallsPerSecond["account_import"] ?? 0 <= 40, "\(stats.maxCallsPerSecond)")
            #expect(stats.answers[60007] == nil, "no 'too fast' answers: \(stats.answers)")
            #expect(stats.accounts == 200)
            // Used to the last call: 200 calls at 40/s take 5 s; allow the start-up and the 2% headroom.
            #expect(elapsed < .seconds(6.5), "took \(elapsed)")
        }
    }
}
