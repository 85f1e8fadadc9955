/// Places the database's clock on this replica's monotonic clock, NTP-style:
/// each round trip gives a sample (database time vs. the local midpoint), and
/// the sample with the shortest recent round trip is the most accurate. Slot
/// times then do not move with each call's latency, so replicas with
/// different latencies do not squeeze their calls together.
struct ClockMapping: Sendable {
    private let reference: ContinuousClock.Instant
    private var samples: [(at: ContinuousClock.Instant, roundTrip: Duration, offsetMicroseconds: Double)] = []
    /// Samples older than this are dropped, so clock drift cannot accumulate.
    let memory: Duration

    init(reference: ContinuousClock.Instant = .now, memory: Duration = .seconds(10)) {
        self.reference = reference
        self.memory = memory
    }

    /// Records one round trip that read `databaseMicroseconds` between `sent` and `received`.
    mutating func record(databaseMicroseconds: Double, sent: ContinuousClock.Instant, received: ContinuousClock.Instant) {
        let midpoint = micros(sent) + (micros(received) - micros(sent)) / 2
        samples.append((received, received - sent, databaseMicroseconds - midpoint))
        let memory = self.memory
        samples.removeAll { received - $0.at > memory }
    }

    /// The local instant of a database time (microseconds since 1970).
    func local(_ databaseMicroseconds: Double) -> ContinuousClock.Instant? {
        guard let best = samples.min(by: { $0.roundTrip < $1.roundTrip }) else { return nil }
        return reference + .microseconds(databaseMicroseconds - best.offsetMicroseconds)
    }

    private func micros(_ instant: ContinuousClock.Instant) -> Double {
        let (seconds, attoseconds) = (instant - reference).components
        return Double(seconds) * 1e6 + Double(attoseconds) / 1e12
    }
}
