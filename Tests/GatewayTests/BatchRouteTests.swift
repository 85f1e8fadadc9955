import Foundation
import Testing
@testable import Gateway

@Suite(.serialized) struct BatchRouteTests {
    func batch(_ h: GatewayHarness, _ ids: [String], nick: String = "N") async throws -> GatewayHarness.Response {
        let items = ids.map { #"{"user_id":"\#($0)","nick":"\#(nick)"}"# }.joined(separator: ",")
        return try await h.request("POST", "/accounts/batch", token: h.importerToken, json: #"{"accounts":[\#(items)]}"#)
    }

    @Test func importsInRequestOrderThroughMultiaccountImport() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.postAccount(#"{"user_id":"b_old","nick":"N"}"#).status == 201)
            let response = try await batch(h, ["b_3", "b_old", "b_1", "b_2"])
            #expect(response.status == 200)
            let results = try #require(response.json["results"] as? [[String: Any]])
            #expect(results.map { $0["index"] as? Int } == [0, 1, 2, 3])
            #expect(results.map { $0["user_id"] as? String } == ["b_3", "b_old", "b_1", "b_2"])
            #expect(results.allSatisfy { $0["status"] as? String == "imported" && $0["error"] == nil })
            #expect(h.sandbox.stats().calls["multiaccount_import"] == 1, "one call for the three new accounts")
            #expect(h.sandbox.account("b_2")?.nick == "N")
            #expect(h.sandbox.account("b_old")?.importCount == 1, "the unchanged account is not sent again")
            let events = try await h.auditEvents().map(\.action)
            #expect(events.filter { $0 == "account.batch_import" }.count == 1)
            #expect(events.filter { $0 == "upstream.multiaccount_import" }.count == 1)
        }
    }

    @Test func chunksOfAtMostOneHundred() async throws {
        try await GatewayHarness.with { h in
            let response = try await batch(h, (1...250).map { "chunk_\($0)" })
            #expect(response.status == 200)
            #expect(h.sandbox.stats().calls["multiaccount_import"] == 3)
            #expect(h.sandbox.stats().accounts == 250)
        }
    }

    @Test func invalidOrRepeatedItemsAre400AndStoreNothing() async throws {
        try await GatewayHarness.with { h in
            let response = try await h.request("POST", "/accounts/batch", token: h.importerToken,
                                               json: #"{"accounts":[{"user_id":"ok_1"},{"user_id":"bad id"},{"user_id":"ok_1"},5]}"#)
            #expect(response.status == 400)
            let fields = (response.json["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
            #expect(fields == ["accounts[1].user_id", "accounts[2].user_id", "accounts[3]"])
            #expect(try await h.request("POST", "/accounts/batch", token: h.importerToken, json: #"{"accounts":[]}"#).status == 400)
            #expect(try await h.request("POST", "/accounts/batch", token: h.auditorToken, json: #"{"accounts":[{"user_id":"x"}]}"#).status == 403)
            #expect(try await h.pool.query("SELECT count(*) AS n FROM accounts").rows[0].int("n") == 0)
        }
    }

    /// FailAccounts carries no reason: the account is asked again alone through
    /// account_import (inside the central budget), whose answer names it, and ends by it.
    @Test func failAccountsGetTheirOwnAnswerAtOnce() async throws {
        var options = GatewayHarness.Options()
        options.accountQuota = 2
        try await GatewayHarness.with(options) { h in
            let response = try await batch(h, ["q_1", "q_2", "q_3"])
            let statuses = (response.json["results"] as? [[String: Any]])?.compactMap { $0["status"] as? String }
            #expect(statuses == ["imported", "imported", "failed"])
            let lookup = try await h.request("GET", "/accounts/q_3", token: h.importerToken).json
            #expect((lookup["last_error"] as? [String: Any])?["code"] as? Int == 70398)
            #expect(h.sandbox.stats().calls["multiaccount_import"] == 1)
            #expect(h.sandbox.stats().calls["account_import"] == 1)
            // Each call audited on its own: the partial batch, then q_3's own import.
            let upstream = try await h.auditEvents().filter { $0.action.hasPrefix("upstream.") }
            #expect(upstream.map(\.action) == ["upstream.multiaccount_import", "upstream.account_import"])
            #expect(upstream.map(\.outcome) == ["partial", "rejected"])
            #expect(upstream.last?.userID == "q_3")
        }
    }

    @Test func anOutageAnswers202WithEveryAccountPending() async throws {
        let outage = OutageUpstream.Switch()
        var options = GatewayHarness.Options()
        options.waitMilliseconds = 300
        options.upstream = { OutageUpstream(wrapped: $0, down: outage) }
        try await GatewayHarness.with(options) { h in
            outage.set(true)
            let response = try await batch(h, ["o_1", "o_2"])
            #expect(response.status == 202)
            #expect(response.header("Retry-After") != nil)
            let statuses = (response.json["results"] as? [[String: Any]])?.compactMap { $0["status"] as? String }
            #expect(statuses == ["pending", "pending"])
        }
    }
}

@Suite struct BatchNamedUserTests {
    @Test func aUserNamedBatchCanBeLookedUp() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.request("GET", "/accounts/batch", token: h.importerToken).status == 404)
            #expect(try await h.postAccount(#"{"user_id":"batch"}"#).status == 201)
            let lookup = try await h.request("GET", "/accounts/batch", token: h.auditorToken)
            #expect(lookup.status == 200 && lookup.json["user_id"] as? String == "batch")
        }
    }
}
