import Synchronization

/// Bounds the pending-import backlog, per caller and in all, as last counted
/// (every few seconds, by `Maintenance`): one caller flooding the gateway can
/// push the others back by its own quota at most, and the queue cannot grow
/// without limit. Past a limit, new work is answered 429 with Retry-After.
final class BacklogQuota: Sendable {
    let perCaller: Int
    let total: Int
    /// The budget the backlog drains at, to tell callers when to come back.
    let drainRate: Double

    private let counts = Mutex<(total: Int, byCaller: [String: Int])>((0, [:]))

    init(perCaller: Int, total: Int, drainRate: Double) {
        self.perCaller = perCaller
        self.total = total
        self.drainRate = drainRate
    }

    func update(byCaller: [String: Int]) {
        counts.withLock { $0 = (byCaller.values.reduce(0, +), byCaller) }
    }

    /// Why `caller` may not queue more work now, if it may not.
    func refusal(for caller: String) -> QuotaExceeded? {
        let (all, mine) = counts.withLock { ($0.total, $0.byCaller[caller] ?? 0) }
        if mine >= perCaller {
            return QuotaExceeded(message: "Caller '\(caller)' has \(mine) imports pending (its quota is \(perCaller)); retry later.",
                                 retryAfterSeconds: retryAfter(mine - perCaller + 1))
        }
        if all >= total {
            return QuotaExceeded(message: "The pending queue is full (\(all) imports); retry later.",
                                 retryAfterSeconds: retryAfter(all - total + 1))
        }
        return nil
    }

    /// Seconds until `excess` imports have drained, between 1 and 300.
    private func retryAfter(_ excess: Int) -> Int {
        min(300, max(1, Int((Double(excess) / max(drainRate, 1)).rounded(.up))))
    }
}
