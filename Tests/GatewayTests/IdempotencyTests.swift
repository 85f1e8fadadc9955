import Foundation
import Testing
@testable import Gateway

@Suite(.serialized) struct IdempotencyTests {
    @Test func sameKeyAndBodyReplaysTheStoredAnswer() async throws {
        try await GatewayHarness.with { h in
            let first = try await h.postAccount(#"{"user_id":"idem_1","nick":"A"}"#, headers: ["Idempotency-Key": "k-1"])
            #expect(first.status == 201)
            // Same meaning, other JSON spelling: still the same request.
            let replay = try await h.postAccount(#"{ "nick": "A", "user_id": "idem_1" }"#, headers: ["Idempotency-Key": "k-1"])
            #expect(replay.status == 201)
            #expect(replay.body == first.body)
            #expect(replay.header("Idempotent-Replayed") == "true")
            #expect(h.sandbox.account("idem_1")?.importCount == 1)
            let outcomes = try await h.auditEvents().filter { $0.action == "account.import" }.map(\.outcome)
            #expect(outcomes == ["imported", "replayed"])
        }
    }

    @Test func sameKeyWithAnotherBodyIs422() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.postAccount(#"{"user_id":"idem_2","nick":"A"}"#, headers: ["Idempotency-Key": "k-2"]).status == 201)
            let reused = try await h.postAccount(#"{"user_id":"idem_2","nick":"B"}"#, headers: ["Idempotency-Key": "k-2"])
            #expect(reused.status == 422)
            #expect((reused.json["type"] as? String)?.hasSuffix("idempotency-key-reused") == true)
            #expect(h.sandbox.account("idem_2")?.nick == "A")
        }
    }

    @Test func keysAreScopedToTheCaller() async throws {
        try await GatewayHarness.with { h in
            let other = try await CallerStore(pool: h.pool).add(name: "other-importer", roles: [.importer])
            #expect(try await h.postAccount(#"{"user_id":"idem_3"}"#, headers: ["Idempotency-Key": "shared"]).status == 201)
            let second = try await h.postAccount(#"{"user_id":"idem_4"}"#, token: other, headers: ["Idempotency-Key": "shared"])
            #expect(second.status == 201)
        }
    }

    @Test func concurrentDuplicateIs409() async throws {
        var options = GatewayHarness.Options()
        options.upstream = { SlowUpstream(wrapped: $0, delay: .milliseconds(600)) }
        try await GatewayHarness.with(options) { h in
            async let a = h.postAccount(#"{"user_id":"idem_5"}"#, headers: ["Idempotency-Key": "k-5"])
            try await Task.sleep(for: .milliseconds(150))
            async let b = h.postAccount(#"{"user_id":"idem_5"}"#, headers: ["Idempotency-Key": "k-5"])
            let statuses = try await [a.status, b.status]
            #expect(statuses == [201, 409])
            #expect(h.sandbox.account("idem_5")?.importCount == 1)
        }
    }

    @Test func afterA202TheSameKeyIsProcessedAgain() async throws {
        let outage = OutageUpstream.Switch()
        var options = GatewayHarness.Options()
        options.waitMilliseconds = 200
        options.upstream = { OutageUpstream(wrapped: $0, down: outage) }
        try await GatewayHarness.with(options) { h in
            outage.set(true)
            #expect(try await h.postAccount(#"{"user_id":"idem_6"}"#, headers: ["Idempotency-Key": "k-6"]).status == 202)
            outage.set(false)
            var status = 0
            for _ in 0..<40 where status != 201 {
                try await Task.sleep(for: .milliseconds(150))
                status = try await h.postAccount(#"{"user_id":"idem_6"}"#, headers: ["Idempotency-Key": "k-6"]).status
            }
            #expect(status == 201)
            let replay = try await h.postAccount(#"{"user_id":"idem_6"}"#, headers: ["Idempotency-Key": "k-6"])
            #expect(replay.status == 201 && replay.header("Idempotent-Replayed") == "true")
        }
    }

    @Test func malformedKeyIs400() async throws {
        try await GatewayHarness.with { h in
            let long = String(repeating: "k", count: 256)
            let response = try await h.postAccount(#"{"user_id":"idem_7"}"#, headers: ["Idempotency-Key": long])
            #expect(response.status == 400)
            #expect((response.json["errors"] as? [[String: Any]])?.first?["field"] as? String == "Idempotency-Key")
        }
    }

    @Test func fingerprintIgnoresSpellingButNotMeaning() {
        let a = AccountInput(userID: "u", chatUserID: "u", nick: "n", faceURL: nil)
        let b = AccountInput(userID: "u", chatUserID: "u", nick: nil, faceURL: "n")
        let c = AccountInput(userID: "u", chatUserID: "u", nick: "", faceURL: nil)
        #expect(IdempotencyStore.fingerprint(a) == IdempotencyStore.fingerprint(a))
        #expect(IdempotencyStore.fingerprint(a) != IdempotencyStore.fingerprint(b))
        #expect(IdempotencyStore.fingerprint(c) != IdempotencyStore.fingerprint(AccountInput(userID: "u", chatUserID: "u", nick: nil, faceURL: nil)))
    }
}

/// Adds latency in front of the real upstream.
struct SlowUpstream: AccountUpstream {
    let wrapped: AccountUpstream
    let delay: Duration

    func importAccount(_ account: UpstreamAccount, updatingProfile: Bool) async -> UpstreamReply {
        try? await Task.sleep(for: delay)
        return await wrapped.importAccount(account, updatingProfile: updatingProfile)
    }

    func importAccounts(_ accounts: [UpstreamAccount]) async -> UpstreamBatchReply {
        try? await Task.sleep(for: delay)
        return await wrapped.importAccounts(accounts)
    }

    func checkAccounts(_ chatUserIDs: [String]) async -> UpstreamCheckReply {
        try? await Task.sleep(for: delay)
        return await wrapped.checkAccounts(chatUserIDs)
    }
}

@Suite struct BacklogQuotaTests {
    @Test func aCallerOverItsQuotaGets429ButMayStillReadWhatIsDone() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.postAccount(#"{"user_id":"done_already"}"#).status == 201)
            h.app.imports.quota.update(byCaller: ["test-importer": h.app.configuration.maxPendingPerCaller])
            let refused = try await h.postAccount(#"{"user_id":"one_more"}"#)
            #expect(refused.status == 429)
            #expect(Int(refused.header("Retry-After") ?? "") ?? 0 >= 1)
            #expect((refused.json["detail"] as? String)?.contains("quota") == true)
            #expect(try await h.postAccount(#"{"user_id":"done_already"}"#).status == 200)
            #expect(try await h.postAccount(#"{"user_id":"done_already","nick":"changed"}"#).status == 429)
            #expect(try await h.request("GET", "/accounts/one_more", token: h.importerToken).status == 404)
            // Another caller is not held back by this one.
            let other = try await CallerStore(pool: h.pool).add(name: "other", roles: [.importer])
            #expect(try await h.postAccount(#"{"user_id":"someone_else"}"#, token: other).status == 201)
        }
    }

    @Test func aFullQueueRefusesEveryone() {
        let quota = BacklogQuota(perCaller: 10, total: 15, drainRate: 5)
        quota.update(byCaller: ["a": 9, "b": 6])
        #expect(quota.refusal(for: "c") == QuotaExceeded(message: "The pending queue is full (15 imports); retry later.", retryAfterSeconds: 1))
        quota.update(byCaller: ["a": 30])
        #expect(quota.refusal(for: "a") == QuotaExceeded(message: "Caller 'a' has 30 imports pending (its quota is 10); retry later.", retryAfterSeconds: 5))
        quota.update(byCaller: ["a": 2])
        #expect(quota.refusal(for: "a") == nil)
    }
}
