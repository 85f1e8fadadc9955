import Foundation
import HTTPServer
import Logging
import Synchronization

/// A local stand-in for Tencent Cloud Chat's account REST API: same URLs,
/// query parameters, JSON and error codes; real UserSig verification;
/// per-API rate limits; optional fault injection. Serve `handler` with the
/// HTTP server. Inspection endpoints live under `/sandbox`.
public final class SandboxService: Sendable {
    public let configuration: SandboxConfiguration
    let logger: Logger
    let now: @Sendable () -> Date
    let sleep: @Sendable (Duration) async -> Void
    let state: Mutex<SandboxState>

    public init(
        configuration: SandboxConfiguration,
        logger: Logger = Logger(label: "tencent-sandbox"),
        now: @escaping @Sendable () -> Date = { Date() },
        random: any RandomNumberGenerator & Sendable = SystemRandomNumberGenerator(),
        sleep: @escaping @Sendable (Duration) async -> Void = { try? await Task.sleep(for: $0) }
    ) {
        self.configuration = configuration
        self.logger = logger
        self.now = now
        self.sleep = sleep
        self.state = Mutex(SandboxState(random: random, faults: configuration.faults))
    }

    public var handler: HTTPHandler {
        { request in await self.handle(request) }
    }

    public func handle(_ request: HTTPRequest) async -> HTTPResponse {
        if request.path == "/v4" || request.path.hasPrefix("/v4/") {
            return await handleTencent(request)
        }
        if request.path.hasPrefix("/sandbox/") {
            return handleInspection(request)
        }
        return Self.json(status: 404, ["error": "not found"])
    }

    // MARK: Inspection

    public func stats() -> SandboxStats {
        state.withLock { state in
            var stats = state.stats
            stats.accounts = state.accounts.count
            return stats
        }
    }

    public func account(_ userID: String) -> SandboxAccount? {
        state.withLock { $0.accounts[userID] }
    }

    /// Forgets accounts (deleted ones too), counters, windows, lockouts and
    /// run-time codes (not the fault knobs nor the random sequence).
    public func reset() {
        state.withLock { state in
            state = SandboxState(random: state.random, faults: state.faults)
        }
    }

    /// The fault knobs now in force.
    public var faults: SandboxFaults {
        state.withLock { $0.faults }
    }

    /// Changes the fault knobs at once, e.g. to stop faults and let a backlog drain.
    public func setFaults(_ faults: SandboxFaults) {
        precondition(faults.isValid, "fault rates must be within 0...1")
        state.withLock { $0.faults = faults }
        logger.info("sandbox faults changed", metadata: [
            "sandbox.error_rate": "\(faults.errorRate)", "sandbox.http502_rate": "\(faults.http502Rate)",
            "sandbox.lost_response_rate": "\(faults.lostResponseRate)", "sandbox.drop_rate": "\(faults.dropRate)",
        ])
    }

    private func handleInspection(_ request: HTTPRequest) -> HTTPResponse {
        let accountsPrefix = "/sandbox/accounts/", codeSuffix = "/code"
        switch request.path {
        case "/sandbox/stats":
            guard request.method == "GET" else { return Self.methodNotAllowed("GET") }
            return Self.json(status: 200, stats())
        case "/sandbox/faults":
            switch request.method {
            case "GET":
                return Self.json(status: 200, faults)
            case "PUT":
                guard let faults = try? JSONDecoder().decode(SandboxFaults.self, from: Data(request.body)), faults.isValid else {
                    return Self.json(status: 400, ["error": "expected {error_rate, http502_rate, lost_response_rate, drop_rate}, each 0...1"])
                }
                setFaults(faults)
                return Self.json(status: 200, faults)
            default:
                return Self.methodNotAllowed("GET, PUT")
            }
        case "/sandbox/codes":
            guard request.method == "GET" else { return Self.methodNotAllowed("GET") }
            return Self.json(status: 200, codes)
        case "/sandbox/code":
            return handleCode(request) { setForcedCode($0, info: $1 ?? Self.forcedCodeInfo) }
        case "/sandbox/reset":
            guard request.method == "POST" else { return Self.methodNotAllowed("POST") }
            reset()
            return Self.json(status: 200, ["reset": true])
        case let path where path.hasPrefix(accountsPrefix) && path.hasSuffix(codeSuffix)
            && path.count > accountsPrefix.count + codeSuffix.count:
            let userID = String(path.dropFirst(accountsPrefix.count).dropLast(codeSuffix.count))
            return handleCode(request) { setAccountCode(userID, code: $0, info: $1 ?? Self.accountCodeInfo) }
        case let path where path.hasPrefix(accountsPrefix) && path.count > accountsPrefix.count:
            guard request.method == "GET" else { return Self.methodNotAllowed("GET") }
            let userID = String(path.dropFirst(accountsPrefix.count))
            guard let account = account(userID) else { return Self.json(status: 404, ["error": "account not found"]) }
            return Self.json(status: 200, account)
        default:
            return Self.json(status: 404, ["error": "not found"])
        }
    }

    // MARK: Responses

    static func json(status: Int, _ value: some Encodable) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let body = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return HTTPResponse(status: status, headers: ["Content-Type": "application/json; charset=utf-8"], body: Array(body))
    }

    static func methodNotAllowed(_ allowed: String) -> HTTPResponse {
        var response = json(status: 405, ["error": "method not allowed"])
        response.headers.set("Allow", allowed)
        return response
    }
}
