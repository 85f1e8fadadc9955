import Foundation
import HTTPServer
import PostgresClient
import Testing
@testable import Gateway

/// With the database unreachable, requests get a prompt 503 with Retry-After, never a hang or a 500.
@Suite struct DatabaseOutageTests {
    func app() throws -> GatewayApplication {
        let url = "postgresql://gateway@127.0.0.1:1/none"
        let configuration = try GatewayConfiguration(environment: [
            "DATABASE_URL": url, "TENCENT_SDKAPPID": "1400000000", "TENCENT_SECRET_KEY": "k", "TENCENT_ENDPOINT": "http://127.0.0.1:1",
        ])
        let pool = PostgresPool(configuration: PostgresConfiguration(connectionString: url), size: 2, logger: TestLogger.make())
        return GatewayApplication(configuration: configuration, pool: pool, upstream: NeverUpstream(), logger: TestLogger.make())
    }

    func request(_ method: String, _ path: String, body: String = "") -> HTTPRequest {
        var headers = HTTPHeaders()
        headers.add("Host", "localhost")
        // Well-formed, so it takes a query (a malformed token is refused without one).
        headers.add("Authorization", "Bearer agw_" + String(repeating: "x", count: 43))
        headers.add("Content-Type", "application/json")
        return HTTPRequest(method: method, target: path, path: path, headers: headers, body: Array(body.utf8))
    }

    @Test func protectedRoutesAnswer503Promptly() async throws {
        let handler = try app().handler
        let started = ContinuousClock.now
        let response = await handler(request("POST", "/accounts", body: #"{"user_id":"u"}"#))
        #expect(response.status == 503)
        #expect(response.headers["Retry-After"] != nil)
        #expect(response.headers["Content-Type"] == "application/problem+json; charset=utf-8")
        #expect(response.headers["X-Request-ID"] != nil)
        #expect(ContinuousClock.now - started < .seconds(6))
        #expect(await handler(request("GET", "/accounts/u")).status == 503)
    }

    @Test func readinessFailsButLivenessHolds() async throws {
        let handler = try app().handler
        #expect(await handler(request("GET", "/readyz")).status == 503)
        #expect(await handler(request("GET", "/healthz")).status == 200)
    }
}

struct NeverUpstream: AccountUpstream {
    func importAccount(_ account: UpstreamAccount, updatingProfile: Bool) async -> UpstreamReply {
        Issue.record("no upstream call expected")
        return UpstreamReply(api: .accountImport, result: .transport("unused"), latency: .zero)
    }

    func importAccounts(_ accounts: [UpstreamAccount]) async -> UpstreamBatchReply {
        Issue.record("no upstream call expected")
        return UpstreamBatchReply(result: .transport("unused"), failed: [], latency: .zero)
    }

    func checkAccounts(_ chatUserIDs: [String]) async -> UpstreamCheckReply {
        Issue.record("no upstream call expected")
        return UpstreamCheckReply(result: .transport("unused"))
    }
}
