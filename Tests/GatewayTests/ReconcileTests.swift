import Foundation
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
