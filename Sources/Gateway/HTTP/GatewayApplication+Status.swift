import Foundation
import HTTPServer

extension GatewayApplication {
    /// `GET /status`: see `StatusPage`. Without the database the page still
    /// renders, from this replica's own counts, and says the rest is unknown.
    func status(_ request: HTTPRequest) async -> HTTPResponse {
        var rateLimits: [StatusPage.RateLimitRow] = []
        var databaseNote = ""
        do {
            let rates = [UpstreamReply.API.accountImport.rawValue: configuration.importRate,
                         UpstreamReply.API.multiaccountImport.rawValue: configuration.batchRate,
                         UpstreamReply.API.accountCheck.rawValue: Reconciler.checkRate]
            for row in try await pool.query("""
                SELECT api,
                       least(1.0, factor + 0.1 * greatest(0, extract(epoch FROM clock_timestamp() - factor_at)))::float8 AS factor,
                       greatest(0, extract(epoch FROM tat - clock_timestamp()))::float8 AS ahead_s,
                       CASE WHEN paused_until > clock_timestamp()
                            THEN extract(epoch FROM paused_until - clock_timestamp())::float8 END AS paused_s
                FROM rate_limits ORDER BY api
                """).rows {
                let api = try row.string("api")
                rateLimits.append(StatusPage.RateLimitRow(
                    api: api, configuredRate: rates[api] ?? 0, factor: try row.double("factor"),
                    reservedAheadSeconds: try row.double("ahead_s"), pausedForSeconds: try row.optionalDouble("paused_s")))
            }
        } catch {
            logger.warning("status page: cannot read the rate limits", metadata: .error(error))
            databaseNote = "<p class=\"bad\">The database does not answer: rate limits and the breaker are unknown.</p>\n"
        }
        let open = await delivery.breaker.state()
        let backlog = metrics.backlog.withLock { $0 }
        let page = StatusPage(
            version: GatewayVersion.current, replica: delivery.owner,
            uptimeSeconds: Date().timeIntervalSince(metrics.started),
            imports: metrics.recentImports.snapshot(), upstream: metrics.recentUpstream.snapshot(),
            pending: backlog.pending, pendingOldestSeconds: backlog.oldestSeconds, rateLimits: rateLimits,
            breaker: open.map { ($0.code, $0.reason, $0.openedAt) }, generatedAt: Date())
        var html = page.render()
        if !databaseNote.isEmpty, let body = html.range(of: "<h2>Upstream</h2>") {
            html.insert(contentsOf: databaseNote, at: body.lowerBound)
        }
        var headers = HTTPHeaders()
        headers.set("Content-Type", "text/html; charset=utf-8")
        headers.set("Cache-Control", "no-store")
        // Self-contained: nothing may load from elsewhere, nothing may run.
        headers.set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src data:")
        return HTTPResponse(status: 200, headers: headers, body: Array(html.utf8))
    }
}
