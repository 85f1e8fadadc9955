/// The fault-injection knobs that can change while the sandbox runs
/// (`PUT /sandbox/faults`), so a fault suite can stop the faults and watch the backlog drain.
public struct SandboxFaults: Sendable, Equatable, Codable {
    /// Share of admitted calls answered with one of the configured error codes, without doing the work.
    public var errorRate: Double = 0
    /// Share of admitted calls answered HTTP 502, without doing the work.
    public var http502Rate: Double = 0
    /// Share of calls that do the work and then answer an error anyway (a timeout after the commit).
    public var lostResponseRate: Double = 0
    /// Share of calls that do the work and then drop the connection without any answer.
    public var dropRate: Double = 0

    public init(errorRate: Double = 0, http502Rate: Double = 0, lostResponseRate: Double = 0, dropRate: Double = 0) {
        self.errorRate = errorRate
        self.http502Rate = http502Rate
        self.lostResponseRate = lostResponseRate
        self.dropRate = dropRate
    }

    enum CodingKeys: String, CodingKey {
        case errorRate = "error_rate", http502Rate = "http502_rate", lostResponseRate = "lost_response_rate", dropRate = "drop_rate"
    }

    var isValid: Bool {
        [errorRate, http502Rate, lostResponseRate, dropRate].allSatisfy { (0...1).contains($0) }
    }
}
