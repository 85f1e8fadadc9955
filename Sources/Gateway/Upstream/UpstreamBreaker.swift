import Foundation
import Logging
import Synchronization

/// The circuit breaker for misconfiguration, shared by every replica through
/// `upstream_breaker` (schema/sql/0007). After a misconfiguration answer (wrong
/// key, app, region, admin, base URL) retrying only hammers Tencent with bad
/// signatures, which is what earns a 70050 lock-out: so nobody calls, except
/// one probe call per interval (30 s, doubling to 5 minutes), until a call
/// succeeds. Accounts stay pending meanwhile; requests answer 202 at once.
///
/// A read of the state is trusted for `refreshInterval`; `serve` reads it
/// every half interval in the background (`keepFresh`) so requests never wait
/// for it. Opening, probing and closing are single statements.
actor UpstreamBreaker {
    struct Open: Sendable, Equatable {
        var code: Int?
        var reason: String
        var openedAt: Date
        /// When the next probe may go out, on this replica's clock.
        var nextProbe: ContinuousClock.Instant

        /// Why it is open, for operators: `circuit breaker open after Tencent code 70009: <info>`.
        var summary: String {
            "circuit breaker open after \(code.map { "Tencent code \($0)" } ?? "an upstream answer"): \(reason)"
        }
    }

    /// May a call go out now?
    enum Permit: Sendable, Equatable {
        case closed
        /// The breaker is open and this call is the one probe of its interval.
        case probe
        /// The breaker is open: try again no earlier than this.
        case wait(Duration)
    }

    static let firstProbeInterval = 30
    static let maxProbeInterval = 300

    let store: BreakerStore
    let metrics: GatewayMetrics
    let logger: Logger
    let refreshInterval: Duration
    private var known: Open? { didSet { publish() } }
    private var readAt: ContinuousClock.Instant? { didSet { publish() } }
    /// `known` as of `readAt`, readable without entering the actor: every
    /// request asks, and an actor hop there is a wake-up on another thread.
    private let lastRead = Mutex<(at: ContinuousClock.Instant, known: Open?)?>(nil)

    private func publish() {
        let snapshot = readAt.map { (at: $0, known: known) }
        lastRead.withLock { $0 = snapshot }
    }

    init(store: BreakerStore, metrics: GatewayMetrics, logger: Logger, refreshInterval: Duration = .seconds(1)) {
        self.store = store
        self.metrics = metrics
        self.logger = logger
        self.refreshInterval = refreshInterval
    }

    /// The breaker as last read (at most `refreshInterval` old); nil when closed.
    /// One read at a time: callers arriving while it is under way wait for it
    /// rather than each sending their own (every request asks).
    nonisolated func state() async -> Open? {
        if let last = lastRead.withLock({ $0 }), ContinuousClock.now - last.at < refreshInterval { return last.known }
        return await stateReading()
    }

    /// Reads the state every half `refreshInterval` until cancelled (`serve`
    /// runs it), so requests find it fresh and none waits for the read on its way.
    func keepFresh() async {
        repeat {
            if let reading { _ = await reading.value } else { _ = await read() }
        } while (try? await Task.sleep(for: refreshInterval / 2)) != nil
    }

    private func stateReading() async -> Open? {
        if let readAt, ContinuousClock.now - readAt < refreshInterval { return known }
        if let reading { return await reading.value }
        let read = Task { await self.read() }
        reading = read
        let open = await read.value
        reading = nil
        return open
    }

    private var reading: Task<Open?, Never>?

    private func read() async -> Open? {
        do {
            let stored = try await store.read()
            let now = ContinuousClock.now
            known = stored.map { Open(code: $0.open.code, reason: $0.open.reason, openedAt: $0.open.openedAt, nextProbe: now + $0.probeIn) }
            readAt = now
            metrics.setMisconfigured(known != nil)
        } catch {
            // Unknown counts as last known: a database outage stops deliveries anyway.
            readAt = .now - refreshInterval / 2  // and is not asked about by every request meanwhile
            logger.warning("cannot read the upstream circuit breaker", metadata: .error(error))
        }
        return known
    }

    /// Whether a call may go out now. While open, the first caller after
    /// `next_probe_at`, on any replica, gets the probe.
    nonisolated func permit() async -> Permit {
        guard let open = await state() else { return .closed }
        return await permit(whileOpen: open)
    }

    private func permit(whileOpen open: Open) async -> Permit {
        let now = ContinuousClock.now
        if open.nextProbe > now { return .wait(open.nextProbe - now) }
        do {
            let taken = try await store.takeProbe()
            readAt = nil
            if let interval = taken {
                logger.notice("upstream circuit breaker: probing with one call", metadata: [
                    "breaker.reason_code": "\(open.code.map(String.init) ?? "none")", "breaker.probe_interval_s": "\(interval)",
                ])
                return .probe
            }
        } catch {
            logger.warning("cannot take the upstream breaker's probe", metadata: .error(error))
        }
        return .wait(.seconds(1))
    }

    /// A misconfiguration answer: opens the breaker, or after a failed probe
    /// doubles the time to the next one.
    func reportMisconfiguration(code: Int?, reason: String, probe: Bool) async {
        do {
            let (interval, opened) = try await store.open(code: code, reason: reason, probe: probe,
                                                          firstInterval: Self.firstProbeInterval, maxInterval: Self.maxProbeInterval)
            readAt = nil
            metrics.setMisconfigured(true)
            if opened || probe {
                logger.error(opened ? "upstream circuit breaker opened: Tencent calls stop but for one probe per interval; fix the configuration"
                                    : "upstream circuit breaker: the probe failed; still open", metadata: [
                    "breaker.reason_code": "\(code.map(String.init) ?? "none")", "breaker.reason": "\(reason)",
                    "breaker.probe_interval_s": "\(interval)",
                ])
            }
        } catch {
            logger.error("cannot open the upstream circuit breaker", metadata: .error(error))
        }
    }

    /// A call went through: closes the breaker if this replica knows it open.
    func reportSuccess() async {
        guard known != nil else { return }
        do {
            let closed = try await store.close()
            known = nil
            readAt = .now
            metrics.setMisconfigured(false)
            if closed.wasOpen {
                logger.notice("upstream circuit breaker closed: a call succeeded", metadata: [
                    "breaker.reason_code": "\(closed.code.map(String.init) ?? "none")",
                ])
            }
        } catch {
            logger.warning("cannot close the upstream circuit breaker", metadata: .error(error))
        }
    }

    /// The configuration changed (a new key was loaded): probe at once instead of waiting out the interval.
    func probeSoon() async {
        do {
            try await store.probeSoon(firstInterval: Self.firstProbeInterval)
            readAt = nil
        } catch {
            logger.warning("cannot schedule an upstream breaker probe", metadata: .error(error))
        }
    }
}
