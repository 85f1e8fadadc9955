import Foundation
import Testing
@testable import Gateway

@Suite struct RecentCountsTests {
    @Test func minutesShiftAndTotalsStay() {
        let counts = RecentCounts<String>()
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        counts.add("imported", now: start)
        counts.add("imported", now: start.addingTimeInterval(1))
        counts.add("pending", now: start.addingTimeInterval(60))
        var snapshot = counts.snapshot(now: start.addingTimeInterval(61))
        #expect(snapshot.perMinute["imported"]?.suffix(2) == [2, 0])
        #expect(snapshot.perMinute["pending"]?.last == 1)
        #expect(snapshot.perMinute["imported"]?.count == recentMinutes)
        #expect(snapshot.totals == ["imported": 2, "pending": 1])
        // An hour later the minutes are gone; the totals are not.
        snapshot = counts.snapshot(now: start.addingTimeInterval(3 * 3600))
        #expect(snapshot.perMinute["imported"]?.allSatisfy { $0 == 0 } == true)
        #expect(snapshot.totals == ["imported": 2, "pending": 1])
    }
}

@Suite struct StatusPageTests {
    private func page(breaker: (code: Int?, reason: String, openedAt: Date)? = nil) -> StatusPage {
        let imports = RecentCounts<String>(), upstream = RecentCounts<UpstreamAnswer>()
        imports.add("imported")
        upstream.add(UpstreamAnswer(api: "account_import", code: "0"))
        upstream.add(UpstreamAnswer(api: "account_import", code: "70009"))
        return StatusPage(
            version: "9.9.9", replica: "host:1:2", uptimeSeconds: 3725, imports: imports.snapshot(), upstream: upstream.snapshot(),
            pending: 3, pendingOldestSeconds: 42,
            rateLimits: [.init(state: .init(api: "account_import", factor: 0.5, reservedAheadSeconds: 1.5, pausedForSeconds: 30),
                               configuredRate: 200)],
            breaker: breaker, generatedAt: Date())
    }

    @Test func selfContainedAndRefreshing() {
        let html = page().render()
        #expect(html.contains(#"<meta http-equiv="refresh" content="10">"#))
        #expect(!html.contains("<script") && !html.contains("src=") && !html.contains("@import") && !html.contains("url("))
        #expect(html.contains("1 h 2 min"))
        #expect(html.contains(#"data-metric="gateway_imports_total" data-labels="outcome=imported">1<"#))
        #expect(html.contains(#"data-labels="api=account_import,error_code=70009">1<"#))
        #expect(html.contains(#"data-metric="gateway_pending_imports" data-labels="">3<"#))
        #expect(html.contains("Locked out by Tencent"))
        #expect(html.contains("<svg"))
    }

    @Test func whatComesFromOutsideIsEscaped() {
        let html = page(breaker: (70009, "<img src=x onerror=alert(1)>", Date())).render()
        #expect(html.contains("&lt;img src=x onerror=alert(1)&gt;"))
        #expect(!html.contains("<img"))
        #expect(html.contains(#"data-state="open""#))
    }
}

@Suite(.serialized) struct StatusRouteTests {
    @Test func theLivePageShowsCountsButNoAccountData() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.postAccount(#"{"user_id":"status_secret_user","nick":"Private Nick"}"#).status == 201)
            let response = try await h.request("GET", "/status", token: nil)
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "text/html; charset=utf-8")
            #expect(response.header("Content-Security-Policy")?.hasPrefix("default-src 'none'") == true)
            let html = String(decoding: response.body, as: UTF8.self)
            #expect(!html.contains("status_secret_user") && !html.contains("Private Nick"))
            #expect(html.contains(#"data-metric="gateway_imports_total" data-labels="outcome=imported">1<"#))
            #expect(html.contains(#"data-labels="api=account_import,error_code=0">1<"#))
            #expect(html.contains("multiaccount_import"), "the central rate limits are listed")
            let metrics = String(decoding: try await h.request("GET", "/metrics", token: nil).body, as: UTF8.self)
            #expect(metrics.contains(#"gateway_imports_total{outcome="imported"} 1"#))
            #expect(metrics.contains("gateway_build_info{version=\"\(GatewayVersion.current)\"} 1"))
        }
    }
}
