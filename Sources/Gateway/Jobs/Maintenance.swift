import Foundation
import Logging
import PostgresClient

/// Periodic chores of every replica: counting the backlog (the pending gauge
/// and the backlog quota), and forgetting expired idempotency keys.
struct Maintenance: Sendable {
    let pool: PostgresPool
    let idempotency: IdempotencyStore
    let metrics: GatewayMetrics
    let quota: BacklogQuota
    let logger: Logger
    var gaugeInterval: Duration = .seconds(5)
    var purgeEvery = 12  // gauge intervals: once a minute

    func run() async {
        var tick = 0
        while !Task.isCancelled {
            do {
                var byCaller: [String: Int] = [:]
                var oldest = 0.0
                for row in try await pool.query("""
                    SELECT coalesce(requested_by, '') AS caller, count(*) AS n,
                           extract(epoch FROM now() - min(pending_since))::float8 AS oldest_s
                    FROM accounts WHERE status = 'pending' GROUP BY 1
                    """).rows {
                    byCaller[try row.string("caller")] = try row.int("n")
                    oldest = max(oldest, try row.optionalDouble("oldest_s") ?? 0)
                }
                quota.update(byCaller: byCaller)
                let verification = try await pool.query(
                    "SELECT at, intact FROM audit_verifications ORDER BY at DESC LIMIT 1").rows.first
                metrics.setAuditVerification(at: try verification?.date("at"), intact: try verification?.bool("intact") ?? true)
                metrics.setPendingImports(byCaller.values.reduce(0, +), oldestSeconds: oldest)
                if tick % purgeEvery == 0 {
                    let purged = try await idempotency.purgeExpired()
                    if purged > 0 { logger.info("forgot expired idempotency keys", metadata: ["idempotency.purged": "\(purged)"]) }
                }
            } catch {
                // Stale backlog counts mean stale quotas and gauges: say so where operators look.
                logger.warning("maintenance failed; backlog counts and quotas stay as last read", metadata: .error(error))
            }
            tick += 1
            try? await Task.sleep(for: gaugeInterval)
        }
    }
}
