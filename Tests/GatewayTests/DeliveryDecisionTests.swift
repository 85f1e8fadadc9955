import Foundation
import Synchronization
import Testing
@testable import Gateway

/// Delivery's decisions (claim, give back, call, record, explain) on in-memory
/// stores: no PostgreSQL, no sockets. The same paths against the real database
/// are in CoalescingTests, UpstreamClassesTests and the route tests.
@Suite struct DeliveryDecisionTests {
    /// Answers as told and counts its calls per API.
    final class ScriptedUpstream: AccountUpstream {
        let single: @Sendable (UpstreamAccount) -> UpstreamReply.Result
        let batch: @Sendable ([UpstreamAccount]) -> UpstreamBatchReply
        private let calls = Mutex<[UpstreamReply.API]>([])

        init(single: @escaping @Sendable (UpstreamAccount) -> UpstreamReply.Result = { _ in .ok },
             batch: @escaping @Sendable ([UpstreamAccount]) -> UpstreamBatchReply = { _ in
                 UpstreamBatchReply(result: .ok, failed: [], latency: .milliseconds(1)) }) {
            self.single = single
            self.batch = batch
        }

        var made: [UpstreamReply.API] { calls.withLock { $0 } }

        func importAccount(_ account: UpstreamAccount, updatingProfile: Bool) async -> UpstreamReply {
            let api: UpstreamReply.API = updatingProfile ? .multiaccountImport : .accountImport
            calls.withLock { $0.append(api) }
            return UpstreamReply(api: api, result: single(account), latency: .milliseconds(1))
        }

        func importAccounts(_ accounts: [UpstreamAccount]) async -> UpstreamBatchReply {
            calls.withLock { $0.append(.multiaccountImport) }
            return batch(accounts)
        }

        func checkAccounts(_ chatUserIDs: [String]) async -> UpstreamCheckReply {
            UpstreamCheckReply(result: .ok)
        }
    }

    let leases = MemoryLeaseStore()
    let breakerStore = MemoryBreakerStore()

    /// A delivery on the in-memory stores; `importSpacing`: the account_import budget's slot spacing.
    func delivery(_ upstream: ScriptedUpstream, importSpacing: Duration = .milliseconds(1),
                  batchSpacing: Duration = .milliseconds(1), owner: String = "replica-a") -> ImportDelivery {
        let metrics = GatewayMetrics()
        let logger = TestLogger.make()
        return ImportDelivery(
            store: leases, upstream: upstream, policy: DeliveryPolicy(), signals: OutcomeSignals(), owner: owner,
            metrics: metrics, logger: logger,
            importLimiter: RateLimiter(api: .accountImport, configuredRate: 200,
                                       store: RateLimiterQueueTests.FakeStore(spacing: importSpacing), metrics: metrics, logger: logger),
            batchLimiter: RateLimiter(api: .multiaccountImport, configuredRate: 100,
                                      store: RateLimiterQueueTests.FakeStore(spacing: batchSpacing), metrics: metrics, logger: logger),
            breaker: UpstreamBreaker(store: breakerStore, metrics: metrics, logger: logger))
    }

    @Test func claimsOnlyWhatIsPendingDueAndFree() async throws {
        leases.add("free")
        leases.add("held") { $0.leaseOwner = "replica-b"; $0.leaseUntil = Date() + 20 }
        leases.add("abandoned") { $0.leaseOwner = "replica-b"; $0.leaseUntil = Date() - 1 }
        leases.add("later") { $0.nextAttemptAt = Date() + 60 }
        leases.add("done") { $0.account.status = .imported }
        let delivery = delivery(ScriptedUpstream())
        let claimed = try await delivery.claim(["free", "held", "abandoned", "later", "done", "unknown"])
        #expect(Set(claimed.map(\.account.userID)) == ["free", "abandoned"])
        #expect(claimed.allSatisfy { $0.account.attempts == 1 })
        #expect(leases.row("abandoned")?.leaseOwner == "replica-a")
        #expect(try await delivery.claim("free") == nil, "a claim held by this replica is not taken twice")
    }

    @Test func aDeliveredAccountIsRecordedWithItsCallsEvent() async throws {
        leases.add("u1", nick: "Ann")
        let upstream = ScriptedUpstream()
        let delivery = delivery(upstream)
        let claim = try #require(try await delivery.claim("u1"))
        let recorded = try #require(await delivery.deliver(claim, permitDeadline: .now + .seconds(1)))
        #expect(recorded.status == .imported && recorded.upstreamExists && recorded.importedAt != nil)
        #expect(upstream.made == [.accountImport])
        #expect(leases.row("u1")?.leaseOwner == nil)
        #expect(leases.events.map(\.action) == [.upstreamAccountImport])
        #expect(leases.events.first?.outcome == .ok && leases.events.first?.attempt == 1)
    }

    @Test func withoutASlotTheClaimIsGivenBackUncounted() async throws {
        leases.add("first")
        leases.add("second")
        let upstream = ScriptedUpstream()
        // One account_import slot per 10 s and the batch budget taken well beyond a second: the second waits.
        let delivery = delivery(upstream, importSpacing: .seconds(10), batchSpacing: .seconds(10))
        _ = await delivery.batchLimiter.reserve(1, deadline: .now + .seconds(1))
        for userID in ["first", "second"] {
            let claim = try #require(try await delivery.claim(userID))
            await delivery.deliver(claim, permitDeadline: .now + .milliseconds(50))
        }
        #expect(upstream.made == [.accountImport])
        let second = try #require(leases.row("second"))
        #expect(second.account.status == .pending && second.account.attempts == 0 && second.leaseOwner == nil)
        #expect(second.nextAttemptAt > Date() + 1, "due again when the budget is expected to be free")
        #expect(leases.events.count == 1, "an attempt that never went out leaves no upstream event")
    }

    @Test func anAccountImportCannotServeNowIsDueAtOnceWhenTheBatchBudgetCan() async throws {
        leases.add("first")
        leases.add("second")
        let delivery = delivery(ScriptedUpstream(), importSpacing: .seconds(10))
        for userID in ["first", "second"] {
            let claim = try #require(try await delivery.claim(userID))
            await delivery.deliver(claim, permitDeadline: .now + .milliseconds(50))
        }
        let second = try #require(leases.row("second"))
        #expect(second.account.attempts == 0 && second.leaseOwner == nil)
        #expect(second.nextAttemptAt < Date() + 0.5, "coalesced by the worker through multiaccount_import, not deferred")
    }

    /// The slot came, but what the call awaited on its way (here a slow read of the
    /// breaker) took it past `RateLimiter.lateness`: it must not leave, or it crowds
    /// the calls of the next slots at Tencent. Given back unattempted, due at once.
    @Test(arguments: [false, true])
    func aCallThatCannotLeaveInItsSlotIsGivenBackUnsent(batch: Bool) async throws {
        breakerStore.readDelay.withLock { $0 = RateLimiter.lateness * 4 }
        leases.add("u1")
        let upstream = ScriptedUpstream()
        let delivery = delivery(upstream)
        let claim = try #require(try await delivery.claim("u1"))
        if batch {
            await delivery.deliverChunk([claim], slot: .now)
        } else {
            await delivery.deliver(claim, at: .now)
        }
        #expect(upstream.made.isEmpty)
        let row = try #require(leases.row("u1"))
        #expect(row.account.attempts == 0 && row.leaseOwner == nil && row.nextAttemptAt < Date() + 0.5, "due at once")
        #expect(leases.events.isEmpty, "no call, no upstream event")
    }

    /// The probe is the one call while the breaker is open: late or not it goes
    /// out (it crowds no other), or the breaker would stay open another interval.
    @Test func theBreakersProbeLeavesEvenPastItsSlot() async throws {
        breakerStore.openNow(code: 70003, probeIn: 0)
        breakerStore.readDelay.withLock { $0 = RateLimiter.lateness * 4 }
        leases.add("u1")
        let upstream = ScriptedUpstream()
        let delivery = delivery(upstream)
        let claim = try #require(try await delivery.claim("u1"))
        await delivery.deliver(claim, at: .now)
        #expect(upstream.made == [.accountImport])
        #expect(!breakerStore.isOpen, "the probe's success closed it")
    }

    @Test func whileTheBreakerIsOpenNothingGoesOutAndClaimsAreGivenBack() async throws {
        breakerStore.openNow(code: 70003, probeIn: 30)
        leases.add("u1")
        let upstream = ScriptedUpstream()
        let delivery = delivery(upstream)
        let claim = try #require(try await delivery.claim("u1"))
        #expect(await delivery.deliver(claim, permitDeadline: .now + .seconds(1)) == nil)
        #expect(upstream.made.isEmpty)
        #expect(leases.row("u1")?.account.attempts == 0 && leases.row("u1")?.leaseOwner == nil)
    }

    @Test func aMisconfigurationAnswerOpensTheBreakerAndASuccessClosesIt() async throws {
        leases.add("u1")
        leases.add("u2")
        let failing = Atomic<Bool>(true)
        let upstream = ScriptedUpstream(single: { _ in failing.load(ordering: .relaxed) ? .tencent(code: 70003, info: "bad sig") : .ok })
        let delivery = delivery(upstream)
        let first = try #require(try await delivery.claim("u1"))
        let recorded = try #require(await delivery.deliver(first, permitDeadline: .now + .seconds(1)))
        #expect(recorded.status == .pending && recorded.lastError?.code == 70003)
        #expect(breakerStore.isOpen)
        #expect(leases.events.first?.outcome == .misconfiguration)

        // The next call is the probe once due; its success closes the breaker.
        failing.store(false, ordering: .relaxed)
        try await breakerStore.probeSoon(firstInterval: 30)
        await delivery.breaker.probeSoon()
        let second = try #require(try await delivery.claim("u2"))
        #expect(await delivery.deliver(second, permitDeadline: .now + .seconds(1))?.status == .imported)
        #expect(!breakerStore.isOpen)
    }

    @Test func accountsListedInFailAccountsAreExplainedAloneTheOthersImported() async throws {
        for userID in ["a", "b", "c"] { leases.add(userID) }
        let upstream = ScriptedUpstream(
            single: { _ in .tencent(code: 70402, info: "invalid nick") },
            batch: { _ in UpstreamBatchReply(result: .ok, failed: ["c-b"], latency: .milliseconds(1)) })
        let delivery = delivery(upstream)
        let claims = try await delivery.claim(["a", "b", "c"])
        await delivery.deliverBatch(claims, permitDeadline: .now + .seconds(1))
        #expect(upstream.made == [.multiaccountImport, .accountImport])
        #expect(leases.row("a")?.account.status == .imported && leases.row("c")?.account.status == .imported)
        let explained = try #require(leases.row("b"))
        #expect(explained.account.status == .failed && explained.account.lastError?.code == 70402)
        #expect(leases.events.map(\.outcome) == [.partial, .rejected])
    }

    @Test func shutdownReleasesOnlyThisReplicasLeases() async throws {
        leases.add("mine")
        leases.add("theirs") { $0.leaseOwner = "replica-b"; $0.leaseUntil = Date() + 20 }
        let delivery = delivery(ScriptedUpstream())
        _ = try await delivery.claim("mine")
        await delivery.drain(timeout: .milliseconds(10))
        #expect(leases.row("mine")?.leaseOwner == nil)
        #expect(leases.row("theirs")?.leaseOwner == "replica-b")
    }

    @Test func anOutcomeForAProfileChangedMeanwhileLeavesTheAccountPending() {
        let sent = UpstreamAccount(chatUserID: "c", nick: "old", faceURL: nil)
        let imported = ImportDelivery.OutcomeRow("u", sent: sent, decision: .imported)
        #expect(imported.status(currentNick: "old", currentFaceURL: nil, unexplainedAttempts: 0, maxUnexplained: 5) == .imported)
        #expect(imported.status(currentNick: "new", currentFaceURL: nil, unexplainedAttempts: 0, maxUnexplained: 5) == .pending)
        #expect(!imported.confirms(currentNick: "new", currentFaceURL: nil))

        let unexplained = ImportDelivery.OutcomeRow("u", sent: sent, decision: DeliveryPolicy().decide(.listedInFailAccounts, attempt: 1))
        #expect(unexplained.unexplained)
        #expect(unexplained.status(currentNick: "old", currentFaceURL: nil, unexplainedAttempts: 3, maxUnexplained: 5) == .pending)
        #expect(unexplained.status(currentNick: "old", currentFaceURL: nil, unexplainedAttempts: 4, maxUnexplained: 5) == .failed)
    }
}

/// `serve` keeps the breaker's state fresh in the background, so a request never
/// waits for the read on its way.
@Suite struct BreakerFreshnessTests {
    @Test func keepFreshSeesAnotherReplicasOpeningWithoutARequestAsking() async throws {
        let store = MemoryBreakerStore()
        let metrics = GatewayMetrics()
        let breaker = UpstreamBreaker(store: store, metrics: metrics, logger: TestLogger.make(),
                                      refreshInterval: .milliseconds(200))
        let refresher = Task { await breaker.keepFresh() }
        defer { refresher.cancel() }
        #expect(await breaker.state() == nil)
        store.openNow(code: 70009, probeIn: 30)  // as another replica would
        // Only the background read can tell the gauge: nothing here asks for the state.
        let deadline = ContinuousClock.now + .seconds(3)
        var rendered = ""
        while ContinuousClock.now < deadline {
            rendered = String(decoding: metrics.render(), as: UTF8.self)
            if rendered.split(separator: "\n").contains(where: { $0.hasPrefix("gateway_upstream_misconfigured ") && $0.hasSuffix(" 1.0") }) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        let gauge = rendered.split(separator: "\n").filter { $0.hasPrefix("gateway_upstream_misconfigured") }
        #expect(gauge.count == 1 && gauge[0].hasSuffix(" 1.0"), "\(gauge)")
    }
}
