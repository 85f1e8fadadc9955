import Foundation
import Synchronization
import Testing
import TencentChat
@testable import Gateway

@Suite struct ReconcileTests {
    @Test func accountsMissingAtTencentAreRequeuedAndImportedAgain() async throws {
        try await GatewayHarness.with { h in
            for id in ["r_1", "r_2", "r_3"] { #expect(try await h.postAccount(#"{"user_id":"\#(id)"}"#).status == 201) }
            let client = try h.tencentClient()
            // Drift: Tencent loses one account (an account_delete would bar it for
            // months with 70399, so the sandbox forgets everything and gets two back).
            h.sandbox.reset()
            for id in ["r_1", "r_3"] { #expect(try await client.accountImport(userID: id).isSuccess) }
            #expect(h.sandbox.account("r_2") == nil)

            let summary = try await Reconciler(pool: h.pool, upstream: TencentUpstream(client: client), logger: TestLogger.make()).run()
            #expect(summary == Reconciler.Summary(checked: 3, confirmed: 2, requeued: 1, unchecked: 0))
            #expect(try await h.request("GET", "/accounts/r_2", token: h.importerToken).json["status"] as? String == "pending")

            let worker = Task { await h.app.runWorker() }
            defer { worker.cancel() }
            #expect(try await h.eventually("r_2", becomes: "imported")["status"] as? String == "imported")
            #expect(h.sandbox.account("r_2") != nil)
            // Nothing drifted any more.
            #expect(try await Reconciler(pool: h.pool, upstream: TencentUpstream(client: client), logger: TestLogger.make()).run().requeued == 0)
        }
    }
}

/// Pages are checked several at a time: one call at a time, Tencent's latency
/// (not the central limit) would set the pace, 100 accounts per round trip.
@Suite struct ReconcileConcurrencyTests {
    /// Answers every account_check after `latency`, all accounts imported; counts the calls under way.
    final class SlowChecks: AccountUpstream {
        let latency: Duration
        private let running = Atomic<Int>(0)
        private let most = Atomic<Int>(0)
        var mostAtOnce: Int { most.load(ordering: .relaxed) }

        init(latency: Duration) { self.latency = latency }

        func checkAccounts(_ chatUserIDs: [String]) async -> UpstreamCheckReply {
            most.max(running.add(1, ordering: .relaxed).newValue, ordering: .relaxed)
            try? await Task.sleep(for: latency)
            running.subtract(1, ordering: .relaxed)
            return UpstreamCheckReply(result: .ok, imported: Set(chatUserIDs))
        }

        func importAccount(_ account: UpstreamAccount, updatingProfile: Bool) async -> UpstreamReply {
            UpstreamReply(api: .accountImport, result: .transport("not in this test"), latency: .zero)
        }

        func importAccounts(_ accounts: [UpstreamAccount]) async -> UpstreamBatchReply {
            UpstreamBatchReply(result: .transport("not in this test"), failed: [], latency: .zero)
        }
    }

    @Test func pagesAreCheckedSeveralAtATime() async throws {
        try await GatewayHarness.with { h in
            _ = try await h.pool.query("""
                INSERT INTO accounts (user_id, chat_user_id, status, imported_at, upstream_exists)
                SELECT 'p_' || g, 'p_' || g, 'imported', now(), true FROM generate_series(1, 500) g
                """)
            let upstream = SlowChecks(latency: .milliseconds(200))
            let reported = Mutex<[Reconciler.Summary]>([])
            let summary = try await Reconciler(pool: h.pool, upstream: upstream, logger: TestLogger.make()).run { progress in
                reported.withLock { $0.append(progress) }
            }
            #expect(summary == Reconciler.Summary(checked: 500, confirmed: 500, requeued: 0, unchecked: 0))
            // Progress counts a page once its check is over, not while it is under way.
            let progress = reported.withLock { $0 }
            #expect(progress.map(\.checked) == [100, 200, 300, 400, 500])
            #expect(progress.allSatisfy { $0.checked == $0.confirmed + $0.requeued + $0.unchecked })
            // Five pages, their calls paced about 10 ms apart by the central limit, each answered after 200 ms.
            #expect(upstream.mostAtOnce >= 3, "at most \(upstream.mostAtOnce) account_check calls were under way at once")
        }
    }
}

@Suite struct ReconcileClassesTests {
    /// A lock-out pauses every API; reconcile waits it out and finishes the page instead of skipping it.
    @Test func aLockoutIsWaitedOut() async throws {
        try await GatewayHarness.with { h in
            for id in ["l_1", "l_2"] { #expect(try await h.postAccount(#"{"user_id":"\#(id)"}"#).status == 201) }
            h.sandbox.setForcedCode(70050, info: "locked out")
            let run = Task { try await Reconciler(pool: h.pool, upstream: TencentUpstream(client: try h.tencentClient()), logger: TestLogger.make()).run() }
            try await Task.sleep(for: .milliseconds(500))
            h.sandbox.setForcedCode(nil)
            let paused = try await h.pool.query("SELECT count(*) AS n FROM rate_limits WHERE paused_until > now() + interval '50 seconds'")
            #expect(try paused.rows[0].int("n") == 3)
            _ = try await h.pool.query("UPDATE rate_limits SET paused_until = now()")  // the minute passes
            #expect(try await run.value == Reconciler.Summary(checked: 2, confirmed: 2, requeued: 0, unchecked: 0))
        }
    }

    /// Misconfiguration cannot heal by retrying: the run stops with a clear error and opens the breaker.
    @Test func misconfigurationEndsTheRun() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.postAccount(#"{"user_id":"m_1"}"#).status == 201)
            h.sandbox.setForcedCode(70009, info: "bad signature")
            let reconciler = Reconciler(pool: h.pool, upstream: TencentUpstream(client: try h.tencentClient()), logger: TestLogger.make())
            await #expect(throws: Reconciler.Aborted.self) { try await reconciler.run() }
            #expect(h.sandbox.stats().calls["account_check"] == 1)
            #expect(try await h.pool.query("SELECT count(*) AS n FROM upstream_breaker").rows[0].int("n") == 1)
            // And a later run refuses to start while the breaker is open.
            await #expect(throws: Reconciler.Aborted.self) { try await reconciler.run() }
            #expect(h.sandbox.stats().calls["account_check"] == 1)
        }
    }
}
