import Foundation
import HTTPServer
import Synchronization
import Testing
@testable import Gateway

/// POST /accounts and GET /accounts/{user_id} end to end: real PostgreSQL,
/// real sockets, the real sandbox behind the real Tencent client.
@Suite(.serialized) struct AccountsRouteTests {
    @Test func firstImportIs201ThenRepeatIs200WithoutUpstreamCall() async throws {
        try await GatewayHarness.with { h in
            let first = try await h.postAccount(#"{"user_id":"alice_01","nick":"Alice","face_url":"https://example.com/a.png"}"#)
            #expect(first.status == 201)
            #expect(first.header("Content-Type") == "application/json; charset=utf-8")
            let body = first.json
            #expect(body["user_id"] as? String == "alice_01")
            #expect(body["chat_user_id"] as? String == "alice_01")
            #expect(body["nick"] as? String == "Alice")
            #expect(body["face_url"] as? String == "https://example.com/a.png")
            #expect(body["status"] as? String == "imported")
            #expect(body["attempts"] as? Int == 1)
            #expect(body["last_error"] is NSNull)
            for key in ["created_at", "updated_at", "imported_at"] {
                let text = try #require(body[key] as? String)
                #expect(text.hasSuffix("Z") && RFC3339.parse(text) != nil, "\(key) = \(text)")
            }
            #expect(h.sandbox.account("alice_01")?.importCount == 1)
            #expect(h.sandbox.account("alice_01")?.nick == "Alice")

            let again = try await h.postAccount(#"{"user_id":"alice_01","nick":"Alice"}"#)
            #expect(again.status == 200)
            #expect(again.json["status"] as? String == "imported")
            #expect(h.sandbox.account("alice_01")?.importCount == 1, "a repeat must not call Tencent again")

            let lookup = try await h.request("GET", "/accounts/alice_01", token: h.auditorToken)
            #expect(lookup.status == 200)
            #expect(lookup.json["status"] as? String == "imported")
            #expect(lookup.json["imported_at"] as? String == body["imported_at"] as? String)

            let events = try await h.auditEvents()
            #expect(events.map(\.action) == ["upstream.account_import", "account.import", "account.import", "account.lookup"])
            #expect(events.map(\.status) == [nil, 201, 200, 200])
            #expect(events[1].caller == "test-importer" && events[3].caller == "test-auditor")
        }
    }

    @Test func changedProfileIsReimportedThroughMultiaccountImport() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.postAccount(#"{"user_id":"bob","nick":"Bob"}"#).status == 201)
            let changed = try await h.postAccount(#"{"user_id":"bob","nick":"Robert"}"#)
            #expect(changed.status == 200)
            #expect(changed.json["nick"] as? String == "Robert")
            #expect(h.sandbox.account("bob")?.nick == "Robert")
            #expect(h.sandbox.stats().calls["multiaccount_import"] == 1)
            // A field left out keeps its value.
            let partial = try await h.postAccount(#"{"user_id":"bob","face_url":"https://x/b.png"}"#)
            #expect(partial.status == 200)
            #expect(partial.json["nick"] as? String == "Robert")
        }
    }

    @Test func invalidInputIs400WithFieldErrorsAndLeavesNoRow() async throws {
        try await GatewayHarness.with { h in
            let response = try await h.postAccount(#"{"user_id":"has space","nick":5}"#, headers: ["X-Request-ID": "req-400"])
            #expect(response.status == 400)
            #expect(response.header("Content-Type") == "application/problem+json; charset=utf-8")
            let problem = response.json
            #expect(problem["status"] as? Int == 400)
            #expect(problem["request_id"] as? String == "req-400")
            #expect((problem["type"] as? String)?.isEmpty == false)
            #expect((problem["title"] as? String)?.isEmpty == false)
            let fields = (problem["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
            #expect(fields == ["user_id", "nick"])
            #expect(try await h.pool.query("SELECT count(*) AS n FROM accounts").rows[0].int("n") == 0)
            #expect(h.sandbox.stats().calls.values.reduce(0, +) == 0)
            #expect(try await h.request("GET", "/accounts/has%20space", token: h.importerToken).status == 404)
        }
    }

    @Test func malformedBodiesAreClientErrors() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.postAccount("{not json").status == 400)
            #expect(try await h.postAccount("[1,2]").status == 400)
            #expect(try await h.postAccount("").status == 400)
            let text = try await h.request("POST", "/accounts", token: h.importerToken, headers: ["Content-Type": "text/plain"])
            #expect(text.status == 415)
            // Found from outside: a gzip body was read as plain JSON (RFC 9110 §8.4.1: refuse it).
            for coding in ["gzip", "identity, gzip", "br"] {
                let coded = try await h.request("POST", "/accounts", token: h.importerToken, json: #"{"user_id":"coded"}"#,
                                                headers: ["Content-Encoding": coding])
                #expect(coded.status == 415, "Content-Encoding: \(coding)")
                #expect((coded.json["detail"] as? String)?.contains("Content-Encoding") == true)
            }
            // Found from outside: an empty media type crashed the process (an empty split's [0]).
            for contentType in ["", "   ", ";", " ; charset=utf-8"] {
                for path in ["/accounts", "/accounts/batch"] {
                    let empty = try await h.request("POST", path, token: h.importerToken, json: nil,
                                                    headers: ["Content-Type": contentType])
                    #expect(empty.status == 415, "\(path) with Content-Type '\(contentType)'")
                }
            }
            let big = #"{"user_id":"u","nick":""# + String(repeating: "x", count: 20_000) + #""}"#
            #expect(try await h.postAccount(big).status == 413)
            #expect(try await h.pool.query("SELECT count(*) AS n FROM accounts").rows[0].int("n") == 0)
            let identity = try await h.request("POST", "/accounts", token: h.importerToken, json: #"{"user_id":"plain_1"}"#,
                                               headers: ["Content-Encoding": "identity"])
            #expect(identity.status == 201)
        }
    }

    /// Found from outside: with two Authorization headers the first decided.
    @Test func twoAuthorizationHeadersAreRefused() async throws {
        try await GatewayHarness.with { h in
            for tokens in [[h.importerToken, "agw_wrong"], ["agw_wrong", h.importerToken], [h.importerToken, h.importerToken]] {
                var headers = HTTPHeaders()
                for token in tokens { headers.add("Authorization", "Bearer \(token)") }
                headers.add("Host", "gateway.test")
                let response = await h.app.handler(HTTPRequest(method: "GET", target: "/accounts/nobody", path: "/accounts/nobody",
                                                               headers: headers))
                #expect(response.status == 401)
                #expect(String(decoding: response.body, as: UTF8.self).contains("exactly one Authorization header"))
            }
        }
    }

    @Test func authenticationAndRoles() async throws {
        try await GatewayHarness.with { h in
            let none = try await h.postAccount(#"{"user_id":"u1"}"#, token: "")
            #expect(none.status == 401)
            #expect(none.header("WWW-Authenticate") == "Bearer")
            #expect(try await h.postAccount(#"{"user_id":"u1"}"#, token: "agw_wrong").status == 401)
            #expect(try await h.postAccount(#"{"user_id":"u1"}"#, token: h.auditorToken).status == 403)
            #expect(try await h.request("GET", "/accounts/u1", token: nil).status == 401)
            try await CallerStore(pool: h.pool).revoke(name: "test-importer")
            #expect(try await h.postAccount(#"{"user_id":"u1"}"#).status == 401)
            // From one address: the first denial of each status and route in the minute is
            // audited at once; the other two 401s of POST /accounts are counted into one
            // event when the minute ends.
            #expect(try await h.auditEvents().map(\.status) == [401, 403, 401])
            await h.app.auditDenialCounts(all: true)
            let events = try await h.pool.query(
                "SELECT action, http_status, attempt, caller, route FROM audit_events ORDER BY id").rows
            #expect(try events.map { try $0.string("action") } == Array(repeating: "auth.denied", count: 4))
            #expect(try events.map { try $0.int("http_status") } == [401, 403, 401, 401])
            #expect(try events.map { try $0.int("attempt") } == [1, 1, 1, 2])
            #expect(try events.map { try $0.optionalString("caller") } == [nil, "test-auditor", nil, nil])
            #expect(try events.map { try $0.optionalString("route") } == ["/accounts", "/accounts", "/accounts/{user_id}", "/accounts"])
            #expect(try await h.pool.query("SELECT count(*) AS n FROM accounts").rows[0].int("n") == 0)
        }
    }

    @Test func permanentTencentRejectionIs422WithCode() async throws {
        var options = GatewayHarness.Options()
        options.accountQuota = 1
        try await GatewayHarness.with(options) { h in
            #expect(try await h.postAccount(#"{"user_id":"first"}"#).status == 201)
            let rejected = try await h.postAccount(#"{"user_id":"second"}"#)
            #expect(rejected.status == 422)
            #expect(rejected.json["tencent_error_code"] as? Int == 70398)
            #expect(rejected.json["tencent_error_info"] is String)
            let lookup = try await h.request("GET", "/accounts/second", token: h.importerToken)
            #expect(lookup.json["status"] as? String == "failed")
            let lastError = lookup.json["last_error"] as? [String: Any]
            #expect(lastError?["code"] as? Int == 70398)
        }
    }

    /// A new account's final answer (201 or 422) is audited in the statement
    /// that records its upstream outcome: one round trip less, and the two events
    /// share a transaction (the same xmin), the request's after the call's, with
    /// its latency; exactly one event per request.
    @Test func aNewAccountsAnswerIsAuditedWithItsOutcome() async throws {
        var options = GatewayHarness.Options()
        options.accountQuota = 1
        try await GatewayHarness.with(options) { h in
            #expect(try await h.postAccount(#"{"user_id":"fold_ok"}"#).status == 201)
            #expect(try await h.postAccount(#"{"user_id":"fold_rejected"}"#).status == 422)
            let rows = try await h.pool.query("""
                SELECT action, http_status, latency_ms, tencent_error_code, xmin::text AS transaction FROM audit_events ORDER BY id
                """).rows
            #expect(try rows.map { try $0.string("action") } == [
                "upstream.account_import", "account.import", "upstream.account_import", "account.import",
            ])
            #expect(try rows.map { try $0.optionalInt("http_status") } == [nil, 201, nil, 422])
            #expect(try rows[3].optionalInt("tencent_error_code") == 70398)
            for pair in [(0, 1), (2, 3)] {
                #expect(try rows[pair.0].string("transaction") == rows[pair.1].string("transaction"), "not written with the outcome")
                #expect(try rows[pair.1].optionalInt("latency_ms") != nil)
            }
        }
    }

    /// Repeats under way together are answered by shared statements (RepeatLookup):
    /// each still answers 200 with one `already_imported` event of its own; a
    /// changed profile among them still goes upstream.
    @Test func concurrentRepeatsAreEachAnsweredAndAuditedOnce() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.postAccount(#"{"user_id":"again","nick":"A"}"#).status == 201)
            let count = 30
            let statuses = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
                for i in 1...count {
                    group.addTask {
                        // The last one sets a face_url, which the others do not ask about.
                        let body = i == count ? #"{"user_id":"again","face_url":"https://example.com/b.png"}"# : #"{"user_id":"again","nick":"A"}"#
                        return (i, try await h.postAccount(body).status)
                    }
                }
                return try await group.reduce(into: [Int: Int]()) { $0[$1.0] = $1.1 }
            }
            #expect(statuses.count == count && statuses.values.allSatisfy { $0 == 200 })
            let rows = try await h.pool.query("""
                SELECT outcome, count(*) AS n, count(DISTINCT request_id) AS requests FROM audit_events
                WHERE action = 'account.import' GROUP BY outcome ORDER BY outcome
                """).rows
            let byOutcome = try Dictionary(uniqueKeysWithValues: rows.map { (try $0.string("outcome"), try $0.int("n")) })
            #expect(byOutcome == ["imported": 1, "already_imported": count - 1, "updated": 1], "\(byOutcome)")
            #expect(try rows.allSatisfy { try $0.int("n") == $0.int("requests") })
            #expect(h.sandbox.account("again")?.faceURL == "https://example.com/b.png")
            #expect(try await AuditVerifier(pool: h.pool).verify().firstBroken == nil)
        }
    }

    @Test func outageAnswers202AndTheWorkerDeliversLater() async throws {
        let outage = OutageUpstream.Switch()
        var options = GatewayHarness.Options()
        options.waitMilliseconds = 300
        options.upstream = { OutageUpstream(wrapped: $0, down: outage) }
        try await GatewayHarness.with(options) { h in
            outage.set(true)
            let accepted = try await h.postAccount(#"{"user_id":"patient","nick":"P"}"#)
            #expect(accepted.status == 202)
            #expect(accepted.json["status"] as? String == "pending")
            #expect(h.sandbox.account("patient") == nil)

            outage.set(false)
            let worker = Task { await h.app.runWorker() }
            defer { worker.cancel() }
            #expect(try await h.eventually("patient", becomes: "imported")["status"] as? String == "imported")
            #expect(h.sandbox.account("patient")?.nick == "P")
        }
    }

    @Test func concurrentRequestsForOneUserMakeOneAccountAndOneCall() async throws {
        // Several rounds: the race between two first inserts of one account is rare.
        try await GatewayHarness.with { h in
            for round in 0..<6 {
                let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<8 { group.addTask { try await h.postAccount(#"{"user_id":"same_\#(round)","nick":"S"}"#).status } }
                    return try await group.reduce(into: [Int]()) { $0.append($1) }
                }
                #expect(statuses.allSatisfy { [200, 201].contains($0) }, "\(statuses)")
                #expect(h.sandbox.account("same_\(round)")?.importCount == 1)
            }
            #expect(try await h.pool.query("SELECT count(*) AS n FROM accounts").rows[0].int("n") == 6)
        }
    }

    @Test func aChatIDMappedToAnotherUserIs409AndStoresNothing() async throws {
        try await GatewayHarness.with { h in
            // As left by a deployment that once used the other ID strategy.
            _ = try await h.pool.query("""
                INSERT INTO accounts (user_id, chat_user_id, status, next_attempt_at) VALUES ('someone@example.com', 'taken', 'imported', now())
                """)
            let response = try await h.postAccount(#"{"user_id":"taken"}"#)
            #expect(response.status == 409)
            #expect((response.json["detail"] as? String)?.contains("already mapped to another user_id") == true)
            #expect(try await h.request("GET", "/accounts/taken", token: h.importerToken).status == 404)
            #expect(h.sandbox.stats().calls.isEmpty)
        }
    }

    @Test func hashedStrategyKeepsAppIdentifiersFromTheVendor() async throws {
        var options = GatewayHarness.Options()
        options.idStrategy = .hashed
        try await GatewayHarness.with(options) { h in
            let response = try await h.postAccount(#"{"user_id":"carol@example.com","nick":"Carol"}"#)
            #expect(response.status == 201)
            let chatID = try #require(response.json["chat_user_id"] as? String)
            #expect(chatID == IDStrategy.hashed.chatUserID(for: "carol@example.com"))
            #expect(h.sandbox.account(chatID) != nil)
            #expect(h.sandbox.account("carol@example.com") == nil)
            let lookup = try await h.request("GET", "/accounts/carol%40example.com", token: h.importerToken)
            #expect(lookup.status == 200)
            #expect(lookup.json["chat_user_id"] as? String == chatID)
        }
    }

    /// Found from outside: under `hashed`, "café" with a precomposed "é" and with
    /// "e" plus a combining accent are two accounts (the database and the ID hash
    /// compare bytes), but Swift's String equality made them one in `import`,
    /// which dropped a row and still exited 0, and in the batch route, which
    /// refused the second as a repeat.
    @Test func userIDsThatDifferOnlyInNormalizationAreTwoAccounts() async throws {
        var options = GatewayHarness.Options()
        options.idStrategy = .hashed
        try await GatewayHarness.with(options) { h in
            let composed = "caf\u{E9}_1", decomposed = "cafe\u{301}_1"
            #expect(composed == decomposed && Array(composed.utf8) != Array(decomposed.utf8), "the premise")
            let batch = try await h.request("POST", "/accounts/batch", token: h.importerToken,
                                            json: #"{"accounts":[{"user_id":"\#(composed)"},{"user_id":"\#(decomposed)"}]}"#)
            #expect(batch.status == 200, "\(String(decoding: batch.body, as: UTF8.self))")
            let results = batch.json["results"] as? [[String: Any]] ?? []
            #expect(results.map { $0["user_id"] as? String }.map { $0.map { Array($0.utf8) } }
                    == [Array(composed.utf8), Array(decomposed.utf8)])
            #expect(Set(results.compactMap { $0["chat_user_id"] as? String }).count == 2)

            let url = FileManager.default.temporaryDirectory.appendingPathComponent("nf-\(UUID().uuidString).ndjson")
            try "{\"user_id\":\"caf\u{E9}_2\",\"nick\":\"NFC\"}\n{\"user_id\":\"cafe\u{301}_2\",\"nick\":\"NFD\"}\n"
                .write(to: url, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: url) }
            let progress = try await BulkImporter(app: h.app).run(url)
            #expect(progress.counts == Counts(rows: 2, invalid: 0, imported: 2, pending: 0, failed: 0))
            let stored = try await h.pool.query(
                "SELECT count(*) AS n FROM accounts WHERE user_id LIKE 'caf%\\_2' AND status = 'imported'").rows[0].int("n")
            #expect(stored == 2)
        }
    }

    @Test func requestIDIsEchoedOrMade() async throws {
        try await GatewayHarness.with { h in
            let echoed = try await h.request("GET", "/healthz", token: nil, headers: ["X-Request-ID": "abc-123"])
            #expect(echoed.header("X-Request-ID") == "abc-123")
            let made = try await h.request("GET", "/healthz", token: nil, headers: ["X-Request-ID": "bad id with spaces"])
            #expect(made.header("X-Request-ID")?.count == 36)
            let notFound = try await h.request("GET", "/nowhere", token: nil)
            #expect(notFound.status == 404)
            #expect(notFound.json["request_id"] as? String == notFound.header("X-Request-ID"))
        }
    }

    @Test func operationsRoutes() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.request("GET", "/healthz", token: nil).status == 200)
            let ready = try await h.request("GET", "/readyz", token: nil)
            #expect(ready.status == 200)
            #expect(ready.json["schema_version"] as? String == String(Migrator.expectedVersion))
            // The API description names the version this build needs.
            #expect(OpenAPIDocument.yaml.contains("this build needs, currently \(Migrator.expectedVersion)."))
            #expect(OpenAPIDocument.yaml.contains("schema_version: \"\(Migrator.expectedVersion)\""))
            let root = try await h.request("GET", "/", token: nil)
            #expect(root.status == 200)
            #expect(root.json["service"] as? String == "account-gateway")
            #expect(root.json["openapi"] as? String == "/openapi.yaml")
            #expect(try await h.request("DELETE", "/accounts/x", token: h.importerToken).status == 405)
        }
    }

    /// `GET /openapi.yaml` serves schema/openapi.yaml of this source tree, byte for byte, with no token.
    @Test func openAPIDocumentIsServedAsInTheSourceTree() async throws {
        let source = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("schema/openapi.yaml")
        let expected = try Data(contentsOf: source)
        try await GatewayHarness.with { h in
            let response = try await h.request("GET", "/openapi.yaml", token: nil)
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "application/yaml")
            #expect(response.body == expected, "run scripts/embed_openapi.py after editing schema/openapi.yaml")
            #expect(try await h.request("POST", "/openapi.yaml", token: nil).status == 405)
        }
    }
}

/// Makes the upstream unreachable while the switch is on, as a network outage would.
struct OutageUpstream: AccountUpstream {
    final class Switch: Sendable {
        private let down = Mutex(false)
        func set(_ value: Bool) { down.withLock { $0 = value } }
        var isDown: Bool { down.withLock { $0 } }
    }

    let wrapped: AccountUpstream
    let down: Switch

    func importAccount(_ account: UpstreamAccount, updatingProfile: Bool) async -> UpstreamReply {
        if down.isDown {
            return UpstreamReply(api: updatingProfile ? .multiaccountImport : .accountImport,
                                 result: .transport("connection refused (test outage)"), latency: .milliseconds(1))
        }
        return await wrapped.importAccount(account, updatingProfile: updatingProfile)
    }

    func importAccounts(_ accounts: [UpstreamAccount]) async -> UpstreamBatchReply {
        if down.isDown {
            return UpstreamBatchReply(result: .transport("connection refused (test outage)"), failed: [], latency: .milliseconds(1))
        }
        return await wrapped.importAccounts(accounts)
    }

    func checkAccounts(_ chatUserIDs: [String]) async -> UpstreamCheckReply {
        if down.isDown { return UpstreamCheckReply(result: .transport("connection refused (test outage)")) }
        return await wrapped.checkAccounts(chatUserIDs)
    }
}

@Suite struct MetricsRouteTests {
    @Test func metricsUseRoutePatternsAndCountWhatHappened() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.postAccount(#"{"user_id":"metric_user"}"#).status == 201)
            #expect(try await h.request("GET", "/accounts/metric_user", token: h.auditorToken).status == 200)
            #expect(try await h.request("GET", "/accounts/someone_secret", token: nil).status == 401)
            let response = try await h.request("GET", "/metrics", token: nil)
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "text/plain; version=0.0.4; charset=utf-8")
            let text = String(decoding: response.body, as: UTF8.self)
            for line in [
                #"gateway_http_requests_total{route="/accounts",method="POST",status="201"} 1"#,
                #"gateway_http_requests_total{route="/accounts/{user_id}",method="GET",status="200"} 1"#,
                #"gateway_imports_total{outcome="imported"} 1"#,
                #"gateway_upstream_requests_total{api="account_import",error_code="0"} 1"#,
                #"gateway_audit_events_total{action="auth.denied"} 1"#,
                #"gateway_audit_events_total{action="upstream.account_import"} 1"#,
            ] {
                #expect(text.contains(line), "missing: \(line)")
            }
            // Every family CONTRACT.md names (the rate-limit wait is there before any wait).
            for family in ["gateway_http_request_duration_seconds_bucket", "gateway_upstream_duration_seconds_bucket",
                           "gateway_pending_imports", "gateway_rate_limit_wait_seconds_bucket", "gateway_http_requests_total",
                           "gateway_imports_total", "gateway_upstream_requests_total", "gateway_audit_events_total"] {
                #expect(text.contains(family), "missing family \(family)")
            }
            #expect(!text.contains("metric_user") && !text.contains("someone_secret"), "no raw paths or IDs in labels")
            #expect(!text.contains(GatewayHarness.secretKey))
        }
    }
}

@Suite struct CallerCacheTests {
    @Test func remembersUntilItsLifetimeEnds() async throws {
        let cache = ExpiringCache<Caller>(lifetime: .milliseconds(100))
        let caller = Caller(name: "svc", roles: [.importer])
        cache.store(caller, for: [1, 2, 3])
        #expect(cache.lookup([1, 2, 3]) == caller)
        #expect(cache.lookup([9]) == nil)
        try await Task.sleep(for: .milliseconds(150))
        #expect(cache.lookup([1, 2, 3]) == nil)
    }

    @Test func aRevokedTokenStopsWorkingWithinTheCacheLifetime() async throws {
        var options = GatewayHarness.Options()
        options.authCacheDuration = .milliseconds(300)
        try await GatewayHarness.with(options) { h in
            #expect(try await h.request("GET", "/accounts/x", token: h.importerToken).status == 404)
            try await CallerStore(pool: h.pool).revoke(name: "test-importer")
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await h.request("GET", "/accounts/x", token: h.importerToken).status == 401)
        }
    }
}

/// The gateway behind its own HTTP server, over a real socket: route tests above
/// call the application directly; this proves the two are wired as `serve` wires them.
@Suite struct ServedOverSocketTests {
    /// Found from outside: refusals the HTTP server made itself (bad target, framing,
    /// limits) carried a new request ID instead of the caller's and were not counted.
    @Test func theServersOwnRefusalsCarryTheCallersRequestIDAndAreCounted() async throws {
        try await GatewayHarness.with { h in
            let port = URL(string: h.baseURL)!.port!
            let cases: [(request: String, status: Int, id: String)] = [
                ("GET /accounts/%ZZ HTTP/1.1\r\nHost: t\r\nX-Request-ID: refused-1\r\n\r\n", 400, "refused-1"),
                ("POST /accounts HTTP/1.1\r\nHost: t\r\nX-Request-ID: refused-2\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                 501, "refused-2"),
                ("POST /accounts HTTP/1.1\r\nHost: t\r\nX-Request-ID: refused-3\r\nContent-Length: 3000000\r\n\r\n",
                 413, "refused-3"),
                // Chunk framing broken after the head: the refusal comes from the body.
                ("POST /accounts/batch HTTP/1.1\r\nHost: t\r\nX-Request-ID: refused-4\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                 400, "refused-4"),
            ]
            for (request, status, id) in cases {
                let answer = try RawClient.exchange(port: port, request)
                #expect(answer.hasPrefix("HTTP/1.1 \(status) "), "\(answer.prefix(40))")
                #expect(answer.contains("\r\nX-Request-ID: \(id)\r\n"), "\(request.prefix(30)): \(answer)")
                #expect(answer.contains(#""request_id":"\#(id)""#))
            }
            // No head read at all: a request ID of the gateway's own.
            let garbled = try RawClient.exchange(port: port, "NOT A REQUEST\r\n\r\n")
            #expect(garbled.hasPrefix("HTTP/1.1 400 "))
            #expect(garbled.range(of: #"X-Request-ID: [0-9a-f-]{36}\r\n"#, options: .regularExpression) != nil)

            let metrics = String(decoding: try await h.request("GET", "/metrics", token: nil).body, as: UTF8.self)
            for line in [
                #"gateway_http_requests_total{route="/accounts",method="POST",status="501"} 1"#,
                #"gateway_http_requests_total{route="/accounts",method="POST",status="413"} 1"#,
                #"gateway_http_requests_total{route="/accounts/batch",method="POST",status="400"} 1"#,
                // A target that is not valid percent-encoding still names its route, as the router reads it.
                #"gateway_http_requests_total{route="/accounts/{user_id}",method="GET",status="400"} 1"#,
                #"gateway_http_requests_total{route="unmatched",method="OTHER",status="400"} 1"#,
            ] {
                #expect(metrics.contains(line), "missing: \(line)")
            }
        }
    }

    @Test func anImportOverTheSocket() async throws {
        try await GatewayHarness.with { h in
            let response = try await h.requestOverSocket("POST", "/accounts", token: h.importerToken, json: #"{"user_id":"socket_1"}"#)
            #expect(response.status == 201)
            #expect(response.header("X-Request-ID")?.count == 36)
            #expect(response.header("Content-Type") == "application/json; charset=utf-8")
            let missing = try await h.requestOverSocket("GET", "/nowhere", token: nil)
            #expect(missing.status == 404)
            #expect(missing.header("Content-Type") == "application/problem+json; charset=utf-8")
        }
    }
}

/// One request written as raw bytes on a new connection, and everything the
/// server sends until it closes (blocking; a 5 s receive timeout).
enum RawClient {
    struct Failure: Error { var call: String }

    static func exchange(port: Int, _ request: String) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(call: "socket") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(call: "connect") }
        let bytes = Array(request.utf8)
        guard bytes.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, 0) }) == bytes.count else { throw Failure(call: "send") }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count <= 0 { break }
            received.append(contentsOf: buffer[0..<count])
        }
        return String(decoding: received, as: UTF8.self)
    }
}
