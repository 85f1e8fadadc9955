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
            rateLimits = try await PostgresRateLimitStore(pool: pool).states().map { state in
                StatusPage.RateLimitRow(state: state, configuredRate: rates[state.api] ?? 0)
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
