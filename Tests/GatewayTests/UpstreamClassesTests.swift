import Foundation
import Synchronization
import Testing
import TencentChat
import TencentSandbox
@testable import Gateway

/// Each class of docs/UPSTREAM_ERRORS.md driven through the sandbox, per account:
/// every code ends somewhere.
@Suite(.serialized) struct UpstreamClassesTests {
    static func problemCode(_ response: GatewayHarness.Response) -> Int? {
        response.json["tencent_error_code"] as? Int
    }

    /// 70399: the UserID was deleted at Tencent and cannot come back for months.
    @Test func aDeletedAccountIs422AndFailed() async throws {
        try await GatewayHarness.with { h in
            h.sandbox.setAccountCode("gone_1", code: 70399, info: "account deleted")
            let response = try await h.postAccount(#"{"user_id":"gone_1"}"#)
            #expect(response.status == 422)
            #expect(Self.problemCode(response) == 70399)
            let account = try await h.request("GET", "/accounts/gone_1", token: h.importerToken).json
            #expect(account["status"] as? String == "failed")
            #expect(h.sandbox.stats().calls["account_import"] == 1)
        }
    }

    /// An undocumented code is retried a bounded number of times, then the account
    /// ends failed with that code and its text, counted and logged.
    @Test func anUndocumentedCodeFailsAfterItsAttempts() async throws {
        var options = GatewayHarness.Options()
        options.maxUnexplainedAttempts = 3
        options.waitMilliseconds = 15_000
        try await GatewayHarness.with(options) { h in
            h.sandbox.setAccountCode("odd_1", code: 72000, info: "something new")
            let response = try await h.postAccount(#"{"user_id":"odd_1"}"#)
            #expect(response.status == 422)
            #expect(Self.problemCode(response) == 72000)
            let account = try await h.request("GET", "/accounts/odd_1", token: h.importerToken).json
            #expect(account["status"] as? String == "failed")
            #expect((account["last_error"] as? [String: Any])?["info"] as? String == "something new")
            #expect(h.sandbox.stats().calls["account_import"] == 3)
            let metrics = String(decoding: h.app.metrics.render(), as: UTF8.self)
            #expect(metrics.contains(#"gateway_upstream_unexplained_failures_total{code="72000"} 1"#))
            // Each of the three calls audited on its own.
            let calls = try await h.auditEvents().filter { $0.action == "upstream.account_import" }
            #expect(calls.map(\.outcome) == ["unexplained", "unexplained", "unexplained"])
        }
    }

    /// A FailAccounts member gets its own reason from a single account_import.
    @Test func aFailAccountsMemberEndsByItsOwnReason() async throws {
        try await GatewayHarness.with { h in
            h.sandbox.setAccountCode("fa_2", code: 40601, info: "profile too long")
            let response = try await h.request("POST", "/accounts/batch", token: h.importerToken,
                                               json: #"{"accounts":[{"user_id":"fa_1"},{"user_id":"fa_2"}]}"#)
            let results = response.json["results"] as? [[String: Any]] ?? []
            #expect(results.compactMap { $0["status"] as? String } == ["imported", "failed"])
            let account = try await h.request("GET", "/accounts/fa_2", token: h.importerToken).json
            #expect((account["last_error"] as? [String: Any])?["code"] as? Int == 40601)
        }
    }

    /// Listed in FailAccounts once, for no reason the single call can find: the
    /// single account_import imports it.
    @Test func aFailAccountsMemberThatImportsAloneIsImported() async throws {
        var options = GatewayHarness.Options()
        options.upstream = { ListsOnceInFailAccounts(wrapped: $0, chatUserID: "fb_2") }
        try await GatewayHarness.with(options) { h in
            let response = try await h.request("POST", "/accounts/batch", token: h.importerToken,
                                               json: #"{"accounts":[{"user_id":"fb_1"},{"user_id":"fb_2"}]}"#)
            let results = response.json["results"] as? [[String: Any]] ?? []
            #expect(results.compactMap { $0["status"] as? String } == ["imported", "imported"])
            #expect(h.sandbox.stats().calls["account_import"] == 1)
            #expect(h.sandbox.account("fb_2") != nil)
        }
    }

    /// 70050 locks the whole app out: no API is called for 60 s on any replica, then imports resume.
    @Test func aLockoutStopsEveryAPIThenImportsResume() async throws {
        var options = GatewayHarness.Options()
        options.waitMilliseconds = 500
        try await GatewayHarness.with(options) { h in
            h.sandbox.setForcedCode(70050, info: "locked out")
            #expect(try await h.postAccount(#"{"user_id":"lock_1"}"#).status == 202)
            h.sandbox.setForcedCode(nil)
            let paused = try await h.pool.query("""
                SELECT api FROM rate_limits WHERE paused_until > now() + interval '55 seconds' ORDER BY api
                """).rows.map { try $0.string("api") }
            #expect(paused == ["account_import", "account_check", "multiaccount_import"].sorted())

            let worker = Task { await h.app.runWorker() }
            defer { worker.cancel() }
            let before = h.sandbox.stats().calls.values.reduce(0, +)
            #expect(try await h.postAccount(#"{"user_id":"lock_2"}"#).status == 202)
            #expect(try await h.request("POST", "/accounts/batch", token: h.importerToken,
                                        json: #"{"accounts":[{"user_id":"lock_3"}]}"#).status == 202)
            try await Task.sleep(for: .seconds(2))
            #expect(h.sandbox.stats().calls.values.reduce(0, +) == before, "a call went out during the lock-out")

            // The minute passes (moved forward here rather than waited for).
            _ = try await h.pool.query("UPDATE rate_limits SET paused_until = now()")
            _ = try await h.pool.query("UPDATE accounts SET next_attempt_at = now() WHERE status = 'pending'")
            for id in ["lock_1", "lock_2", "lock_3"] {
                #expect(try await h.eventually(id, becomes: "imported")["status"] as? String == "imported")
            }
        }
    }

    /// During a lock-out no call can go out before a request's deadline: the
    /// request that met the 70050 and the new ones after it are stored and
    /// answered 202 at once, as while the breaker is open, not after the whole wait.
    @Test func duringALockoutRequestsAreAnsweredAtOnce() async throws {
        var options = GatewayHarness.Options()
        options.waitMilliseconds = 6_000
        try await GatewayHarness.with(options) { h in
            h.sandbox.setForcedCode(70050, info: "locked out")
            for id in ["lockw_1", "lockw_2", "lockw_3"] {
                let started = ContinuousClock.now
                let response = try await h.postAccount(#"{"user_id":"\#(id)"}"#)
                #expect(response.status == 202)
                #expect(response.json["status"] as? String == "pending")
                #expect(ContinuousClock.now - started < .seconds(2), "\(id) waited for a call that could not come")
            }
            #expect(h.sandbox.stats().calls["account_import"] == 1, "a call went out during the lock-out")
            let batch = try await h.request("POST", "/accounts/batch", token: h.importerToken,
                                            json: #"{"accounts":[{"user_id":"lockw_4"}]}"#)
            #expect(batch.status == 202)
            #expect(h.sandbox.stats().calls.values.reduce(0, +) == 1)
            // Each request still wrote its event.
            let events = try await h.pool.query(
                "SELECT count(*) AS n FROM audit_events WHERE action = 'account.import' AND user_id LIKE 'lockw_%'").rows
            #expect(try events.first?.int("n") == 3)
        }
    }

    /// A wrong key: the breaker opens after the first 70009, requests answer 202
    /// at once, only a probe per interval reaches Tencent, and once the key is
    /// fixed every account is imported.
    @Test func aWrongKeyStopsTheCallsUntilItIsFixed() async throws {
        var options = GatewayHarness.Options()
        options.gatewaySecretKey = "not-the-app-key"
        try await GatewayHarness.with(options) { h in
            let worker = Task { await h.app.runWorker() }
            defer { worker.cancel() }
            let first = try await h.postAccount(#"{"user_id":"key_0"}"#)
            #expect(first.status == 202)
            let started = ContinuousClock.now
            for i in 1...20 {
                #expect(try await h.postAccount(#"{"user_id":"key_\#(i)"}"#).status == 202)
            }
            #expect(ContinuousClock.now - started < .seconds(5), "202s were not answered at once")
            try await Task.sleep(for: .seconds(2))
            let stats = h.sandbox.stats()
            #expect((stats.answers[70009] ?? 0) <= 2)
            #expect(stats.answers[70050] == nil)
            let ready = try await h.request("GET", "/readyz", token: nil)
            #expect(ready.status == 200)
            #expect((ready.json["upstream"] as? String)?.contains("70009") == true)
            // The sample line, not the HELP text (which also reads "gateway_upstream_misconfigured 1 while…").
            let gauge = String(decoding: h.app.metrics.render(), as: UTF8.self).split(separator: "\n")
                .filter { $0.hasPrefix("gateway_upstream_misconfigured ") }
            #expect(gauge == ["gateway_upstream_misconfigured 1.0"])

            // The key is fixed (as SecretKeyReloader does): the breaker probes at once, closes, and the backlog drains.
            #expect(h.client.signature.rotate(secretKey: GatewayHarness.secretKey))
            await h.app.upstreamConfigurationChanged()
            for i in 0...20 {
                #expect(try await h.eventually("key_\(i)", becomes: "imported")["status"] as? String == "imported")
            }
            #expect(try await h.pool.query("SELECT count(*) AS n FROM upstream_breaker").rows[0].int("n") == 0)
            #expect((h.sandbox.stats().answers[70009] ?? 0) <= 2)
        }
    }

    /// A call that got no certain answer may have created the account: a profile
    /// changed after it goes through multiaccount_import, since account_import
    /// leaves an existing account's profile as it was.
    @Test func aProfileChangedAfterALostAnswerReachesTencent() async throws {
        var options = GatewayHarness.Options()
        options.waitMilliseconds = 300
        try await GatewayHarness.with(options) { h in
            h.sandbox.setFaults(SandboxFaults(lostResponseRate: 1))  // does the work, then answers 70500/60008
            #expect(try await h.postAccount(#"{"user_id":"lost_1","nick":"First"}"#).status == 202)
            #expect(h.sandbox.account("lost_1")?.nick == "First")
            h.sandbox.setFaults(SandboxFaults())
            let worker = Task { await h.app.runWorker() }
            defer { worker.cancel() }
            _ = try await h.postAccount(#"{"user_id":"lost_1","nick":"Second"}"#)
            #expect(try await h.eventually("lost_1", becomes: "imported")["nick"] as? String == "Second")
            #expect(h.sandbox.account("lost_1")?.nick == "Second")
        }
    }

    /// A replica killed between its call and its record leaves the account pending
    /// with its attempt counted and no answer: Tencent may have it with the old
    /// profile, so the profile changed since reaches it through multiaccount_import.
    @Test func aProfileChangedAfterACrashedAttemptReachesTencent() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.tencentClient().accountImport(userID: "crash_1", nick: "First").isSuccess)
            _ = try await h.pool.query("""
                INSERT INTO accounts (user_id, chat_user_id, nick, status, next_attempt_at, attempts)
                VALUES ('crash_1', 'crash_1', 'First', 'pending', now(), 1)
                """)
            let response = try await h.postAccount(#"{"user_id":"crash_1","nick":"Second"}"#)
            #expect(response.status == 201)
            #expect(h.sandbox.account("crash_1")?.nick == "Second")
            #expect(h.sandbox.stats().calls["multiaccount_import"] == 1)
        }
    }

    /// A wrong base URL (a 404 from whatever answers there) is misconfiguration, not a retry storm.
    @Test func anUpstreamClientErrorOpensTheBreaker() async throws {
        var options = GatewayHarness.Options()
        options.upstream = { _ in AnswersHTTPStatus(status: 404) }
        try await GatewayHarness.with(options) { h in
            let started = ContinuousClock.now
            #expect(try await h.postAccount(#"{"user_id":"url_1"}"#).status == 202)
            #expect(ContinuousClock.now - started < .seconds(5), "the request waited although the breaker was open")
            let open = try await h.pool.query("SELECT reason FROM upstream_breaker").rows
            #expect(try open.first?.string("reason") == "upstream answered HTTP 404")
            let account = try await h.request("GET", "/accounts/url_1", token: h.importerToken).json
            #expect(account["status"] as? String == "pending")
        }
    }

    /// After 70001 the retry signs anew, takes a slot like any call, and leaves an audit event of its own.
    @Test func aReSignedRetryIsACallOfItsOwn() async throws {
        try await GatewayHarness.with { h in
            h.sandbox.setForcedCode(70001, info: "expired")
            let signaturesBefore = h.client.signature.signaturesMade
            let post = Task { try await h.postAccount(#"{"user_id":"sig_1"}"#) }
            try await Task.sleep(for: .milliseconds(200))
            h.sandbox.setForcedCode(nil)
            #expect(try await post.value.status == 201)
            #expect(h.client.signature.signaturesMade > signaturesBefore)
            // (A retry goes through multiaccount_import: the first attempt may have reached Tencent.)
            let calls = try await h.auditEvents().filter { $0.action.hasPrefix("upstream.") }
            #expect(calls.count >= 2)
            #expect(calls.first?.outcome == "renew_signature")
            #expect(calls.last?.outcome == "ok")
            // Every call, the re-signed ones included, went out on a slot of the central limit.
            let metrics = String(decoding: h.app.metrics.render(), as: UTF8.self)
            let slots = metrics.split(separator: "\n").filter { $0.hasPrefix("gateway_rate_limit_slots_total{") }
                .compactMap { $0.split(separator: " ").last.flatMap { Int($0) } }.reduce(0, +)
            #expect(slots >= calls.count)
        }
    }
}

/// Lists one account in FailAccounts on the first batch call that carries it, without sending it on.
final class ListsOnceInFailAccounts: AccountUpstream {
    let wrapped: AccountUpstream
    let chatUserID: String
    private let listed = Mutex(false)

    init(wrapped: AccountUpstream, chatUserID: String) {
        self.wrapped = wrapped
        self.chatUserID = chatUserID
    }

    func importAccount(_ account: UpstreamAccount, updatingProfile: Bool) async -> UpstreamReply {
        await wrapped.importAccount(account, updatingProfile: updatingProfile)
    }

    func importAccounts(_ accounts: [UpstreamAccount]) async -> UpstreamBatchReply {
        let drop = listed.withLock { done in
            defer { if accounts.contains(where: { $0.chatUserID == chatUserID }) { done = true } }
            return !done && accounts.contains { $0.chatUserID == chatUserID }
        }
        guard drop else { return await wrapped.importAccounts(accounts) }
        var reply = await wrapped.importAccounts(accounts.filter { $0.chatUserID != chatUserID })
        reply.failed.insert(chatUserID)
        return reply
    }

    func checkAccounts(_ chatUserIDs: [String]) async -> UpstreamCheckReply {
        await wrapped.checkAccounts(chatUserIDs)
    }
}

/// Whatever answers at a wrong base URL.
struct AnswersHTTPStatus: AccountUpstream {
    let status: Int

    func importAccount(_ account: UpstreamAccount, updatingProfile: Bool) async -> UpstreamReply {
        UpstreamReply(api: updatingProfile ? .multiaccountImport : .accountImport, result: .httpStatus(status), latency: .milliseconds(1))
    }

    func importAccounts(_ accounts: [UpstreamAccount]) async -> UpstreamBatchReply {
        UpstreamBatchReply(result: .httpStatus(status), failed: [], latency: .milliseconds(1))
    }

    func checkAccounts(_ chatUserIDs: [String]) async -> UpstreamCheckReply {
        UpstreamCheckReply(result: .httpStatus(status))
    }
}
