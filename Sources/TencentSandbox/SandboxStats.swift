/// Counters for tests and the fault-injection suite (`GET /sandbox/stats`).
public struct SandboxStats: Sendable, Equatable, Codable {
    /// Requests routed to each API (by command name), whatever their answer.
    public var calls: [String: Int] = [:]
    /// HTTP-200 answers per `ErrorCode` (0 included).
    public var answers: [Int: Int] = [:]
    /// Injected HTTP 502 answers.
    public var http502: Int = 0
    /// Connections dropped unanswered after the work (`dropRate`).
    public var droppedConnections: Int = 0
    /// Answers whose error was injected (`errorRate` and `lostResponseRate`).
    public var injectedErrors: Int = 0
    /// Most requests to each API seen within any sliding 1-second window.
    public var maxCallsPerSecond: [String: Int] = [:]
    /// Imports that named an already existing UserID.
    public var duplicateImports: Int = 0
    /// Accounts currently held.
    public var accounts: Int = 0

    public init() {}

    enum CodingKeys: String, CodingKey {
        case calls
        case answers
        case http502 = "http_502"
        case droppedConnections = "dropped_connections"
        case injectedErrors = "injected_errors"
        case maxCallsPerSecond = "max_calls_per_second"
        case duplicateImports = "duplicate_imports"
        case accounts
    }
}
