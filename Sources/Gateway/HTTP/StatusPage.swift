import Foundation
import HTTPServer

/// `GET /status`: a page for people, without Grafana. Self-contained (inline CSS
/// and SVG, no script, no external asset), refreshing itself every 10 s, and free
/// of account data: counts, codes, API names, this replica's version and uptime.
///
/// Every number that `/metrics` also exposes carries `data-metric` and
/// `data-labels`, so a test (and a curious operator) can hold the page against
/// the metrics.
struct StatusPage {
    /// A central budget's state, and the rate configured for it.
    struct RateLimitRow: Sendable {
        var state: PostgresRateLimitStore.State
        var configuredRate: Int
    }

    var version: String
    var replica: String
    var uptimeSeconds: Double
    var imports: RecentCounts<String>.Snapshot
    var upstream: RecentCounts<UpstreamAnswer>.Snapshot
    var pending: Int
    var pendingOldestSeconds: Double
    var rateLimits: [RateLimitRow]
    var breaker: (code: Int?, reason: String, openedAt: Date)?
    var generatedAt: Date

    static let outcomes = ["imported", "updated", "already_imported", "pending", "rejected", "throttled", "invalid",
                           "unavailable", "error"]

    func render() -> String {
        var html = """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="refresh" content="10">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>account-gateway status</title>
            <style>
            body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d2330;background:#fafbfc}
            h1{font-size:1.3em;margin:0 0 .2em}h2{font-size:1.05em;margin:1.4em 0 .4em}
            table{border-collapse:collapse;background:#fff}td,th{padding:.25em .8em;border-bottom:1px solid #e3e6ea;text-align:left}
            td.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#687385}
            .ok{color:#11743b}.bad{color:#b42318;font-weight:600}svg{vertical-align:middle}
            </style></head><body>
            <h1>account-gateway</h1>
            <p class="muted">version <span id="version">\(escape(version))</span> · replica \(escape(replica)) ·
            up <span id="uptime" data-seconds="\(Int(uptimeSeconds))">\(Self.duration(uptimeSeconds))</span> ·
            \(escape(RFC3339.string(generatedAt))) · refreshes every 10 s</p>

            """
        html += upstreamState()
        html += backlogSection()
        html += importsSection()
        html += rateLimitSection()
        html += errorsSection()
        html += "<p class=\"muted\">Counts of imports and upstream calls are this replica's since it started (as in <a href=\"/metrics\">/metrics</a>); the backlog and the rate limits are shared by all replicas.</p>\n</body></html>\n"
        return html
    }

    private func upstreamState() -> String {
        var lines = "<h2>Upstream</h2>\n"
        if let breaker {
            lines += "<p id=\"breaker\" class=\"bad\" data-state=\"open\">Circuit breaker open since \(escape(RFC3339.string(breaker.openedAt)))"
            lines += " after Tencent code \(breaker.code.map(String.init) ?? "?"): \(escape(String(breaker.reason.prefix(200))))."
            lines += " Only probe calls go out until the configuration is fixed.</p>\n"
        } else {
            lines += "<p id=\"breaker\" class=\"ok\" data-state=\"closed\">Circuit breaker closed.</p>\n"
        }
        let paused = rateLimits.compactMap { row in row.state.pausedForSeconds.map { (row.state.api, $0) } }
        if let (_, seconds) = paused.max(by: { $0.1 < $1.1 }) {
            lines += "<p id=\"lockout\" class=\"bad\">Locked out by Tencent (70050): no calls for another \(Self.duration(seconds)).</p>\n"
        }
        return lines
    }

    private func backlogSection() -> String {
        """
        <h2>Pending backlog</h2>
        <table><tr><th>pending accounts</th><td class="n" data-metric="gateway_pending_imports" data-labels="">\(pending)</td></tr>
        <tr><th>oldest waiting</th><td class="n" data-metric="gateway_pending_oldest_seconds" data-labels="" data-value="\(Int(pendingOldestSeconds))">\(pending == 0 ? "–" : Self.duration(pendingOldestSeconds))</td></tr></table>

        """
    }

    private func importsSection() -> String {
        var rows = ""
        let keys = Self.outcomes.filter { imports.totals[$0] != nil } + imports.totals.keys.filter { !Self.outcomes.contains($0) }.sorted()
        for outcome in keys {
            let series = imports.perMinute[outcome] ?? []
            rows += "<tr><td>\(escape(outcome))</td>"
            rows += "<td class=\"n\" data-metric=\"gateway_imports_total\" data-labels=\"outcome=\(escape(outcome))\">\(imports.totals[outcome] ?? 0)</td>"
            rows += "<td class=\"n\">\(series.last ?? 0)</td><td>\(Self.sparkline(series))</td></tr>\n"
        }
        if rows.isEmpty { rows = "<tr><td colspan=\"4\" class=\"muted\">no POST /accounts answered yet</td></tr>\n" }
        return """
            <h2>Imports (POST /accounts) by outcome</h2>
            <table><tr><th>outcome</th><th>total</th><th>this minute</th><th>per minute, last hour</th></tr>
            \(rows)</table>

            """
    }

    private func rateLimitSection() -> String {
        var rows = ""
        for row in rateLimits {
            let calls = upstream.perMinute.filter { $0.key.api == row.state.api }.map(\.value)
            let lastMinute = calls.reduce(0) { $0 + ($1.dropLast().last ?? 0) }
            let perMinute = (0..<recentMinutes).map { minute in calls.reduce(0) { $0 + ($1.count > minute ? $1[minute] : 0) } }
            let use = Double(lastMinute) / 60 / Double(max(1, row.configuredRate))
            rows += "<tr><td>\(escape(row.state.api))</td><td class=\"n\">\(row.configuredRate)/s</td>"
            rows += "<td class=\"n\">\(String(format: "%.0f%%", row.state.factor * 100))</td>"
            rows += "<td class=\"n\">\(String(format: "%.1f s", row.state.reservedAheadSeconds))</td>"
            rows += "<td class=\"n\">\(lastMinute) (\(String(format: "%.0f%%", use * 100)))</td><td>\(Self.sparkline(perMinute))</td></tr>\n"
        }
        return """
            <h2>Rate limits (central, all replicas)</h2>
            <table><tr><th>API</th><th>configured</th><th>in force</th><th>reserved ahead</th><th>this replica, last minute (use)</th><th>calls per minute</th></tr>
            \(rows)</table>

            """
    }

    private func errorsSection() -> String {
        // Errors first, the most frequent in the last hour on top; then the successes by API.
        let lastHour = upstream.perMinute.mapValues { $0.reduce(0, +) }
        let errors = upstream.totals.keys.filter { !$0.isSuccess }
            .sorted { (lastHour[$0] ?? 0, $0) > (lastHour[$1] ?? 0, $1) }
        var rows = "", ok = ""
        for answer in errors + upstream.totals.keys.filter(\.isSuccess).sorted() {
            let line = "<tr><td>\(escape(answer.api))</td><td>\(answer.isSuccess ? "0 (success)" : escape(answer.code))</td>"
                + "<td class=\"n\">\(lastHour[answer] ?? 0)</td><td class=\"n\" data-metric=\"gateway_upstream_requests_total\" "
                + "data-labels=\"api=\(escape(answer.api)),error_code=\(escape(answer.code))\">\(upstream.totals[answer] ?? 0)</td></tr>\n"
            if answer.isSuccess { ok += line } else { rows += line }
        }
        if rows.isEmpty { rows = "<tr><td colspan=\"4\" class=\"ok\">no error answers</td></tr>\n" }
        return """
            <h2>Upstream answers, last hour</h2>
            <table><tr><th>API</th><th>error code</th><th>last hour</th><th>total</th></tr>
            \(rows)\(ok)</table>

            """
    }

    /// 60 minutes as a small line, scaled to its own maximum.
    static func sparkline(_ counts: [Int]) -> String {
        let width = 180.0, height = 24.0
        guard !counts.isEmpty else { return "" }
        let top = Double(max(1, counts.max() ?? 1))
        let step = width / Double(max(1, counts.count - 1))
        let points = counts.enumerated().map { index, count in
            String(format: "%.1f,%.1f", Double(index) * step, height - 1 - Double(count) / top * (height - 2))
        }.joined(separator: " ")
        return "<svg width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"per minute, peak \(Int(top))\">"
            + "<polyline fill=\"none\" stroke=\"#3660d9\" stroke-width=\"1.5\" points=\"\(points)\"/></svg>"
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds.rounded())
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min \(total % 60) s" }
        if total < 86_400 { return "\(total / 3600) h \(total % 3600 / 60) min" }
        return "\(total / 86_400) d \(total % 86_400 / 3600) h"
    }

    /// The characters HTML gives meaning to in text and attribute values, as entities.
    private static let entities: [Character: String] = ["&": "&amp;", "<": "&lt;", ">": "&gt;", "\"": "&quot;", "'": "&#39;"]

    private func escape(_ text: String) -> String {
        text.reduce(into: "") { escaped, character in escaped += Self.entities[character] ?? String(character) }
    }
}
