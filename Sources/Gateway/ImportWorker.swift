import Foundation
import Logging

/// Runs in every replica: picks up pending imports that are due — retries,
/// 202s whose request gave up waiting, imports left behind by a crashed
/// replica — and delivers them.
struct ImportWorker: Sendable {
    let delivery: ImportDelivery
    let logger: Logger
    var batchSize = 16
    var idleInterval: Duration = .milliseconds(250)
    var errorInterval: Duration = .seconds(1)

    /// Runs until the task is cancelled.
    func run() async {
        logger.info("import worker started", metadata: ["worker.owner": "\(delivery.owner)"])
        while !Task.isCancelled {
            do {
                let claims = try await delivery.claimDue(limit: batchSize)
                if claims.isEmpty {
                    try? await Task.sleep(for: idleInterval)
                    continue
                }
                await withDiscardingTaskGroup { group in
                    for claim in claims {
                        group.addTask { await delivery.deliver(claim) }
                    }
                }
            } catch {
                logger.warning("import worker cannot claim pending imports", metadata: ["error": "\(error)"])
                try? await Task.sleep(for: errorInterval)
            }
        }
        logger.info("import worker stopped")
    }
}
