import Foundation
import Logging
import PostgresClient

/// Periodic chores of every replica: the pending-imports gauge, and
/// forgetting expired idempotency keys.
struct Maintenance: Sendable {
    let pool: PostgresPool
    let idempotency: IdempotencyStore
    let metrics: GatewayMetrics
    let logger: Logger
    var gaugeInterval: Duration = .seconds(5)
    var purgeEvery = 12  // gauge intervals: once a minute

    func run() async {
        var tick = 0
        while !Task.isCancelled {
            do {
                let pending = try await pool.query("SELECT count(*) AS n FROM accounts WHERE status = 'pending'").rows.first?.int("n") ?? 0
                metrics.setPendingImports(pending)
                if tick % purgeEvery == 0 {
                    let purged = try await idempotency.purgeExpired()
                    if purged > 0 { logger.info("forgot expired idempotency keys", metadata: ["idempotency.purged": "\(purged)"]) }
                }
            } catch {
                logger.debug("maintenance skipped", metadata: ["error": "\(error)"])
            }
            tick += 1
            try? await Task.sleep(for: gaugeInterval)
        }
    }
}
