import Foundation
import Testing
import TencentChat
@testable import Gateway

@Suite struct ReconcileTests {
    @Test func accountsMissingAtTencentAreRequeuedAndImportedAgain() async throws {
        try await GatewayHarness.with { h in
            for id in ["r_1", "r_2", "r_3"] { #expect(try await h.postAccount(#"{"user_id":"\#(id)"}"#).status == 201) }
            let client = try h.tencentClient()
            // Drift: Tencent loses one account.
            #expect(try await client.accountDelete(["r_2"]).isSuccess)
            #expect(h.sandbox.account("r_2") == nil)

            let summary = try await Reconciler(pool: h.pool, client: client, logger: TestLogger.make()).run()
            #expect(summary == Reconciler.Summary(checked: 3, confirmed: 2, requeued: 1, unchecked: 0))
            #expect(try await h.request("GET", "/accounts/r_2", token: h.importerToken).json["status"] as? String == "pending")

            let worker = Task { await h.app.runWorker() }
            defer { worker.cancel() }
            #expect(try await h.eventually("r_2", becomes: "imported")["status"] as? String == "imported")
            #expect(h.sandbox.account("r_2") != nil)
            // Nothing drifted any more.
            #expect(try await Reconciler(pool: h.pool, client: client, logger: TestLogger.make()).run().requeued == 0)
        }
    }
}
