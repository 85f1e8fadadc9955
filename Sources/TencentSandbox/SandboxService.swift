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
            return await handleInspection(request)
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

    private func handleInspection(_ request: HTTPRequest) async -> HTTPResponse {
        await inspectionRouter().handle(request)
    }

    /// The `/sandbox` endpoints. Answers are the sandbox's small JSON objects, 404 and 405 too.
    private func inspectionRouter() -> Router {
        var router = Router(
            notFound: { _ in Self.json(status: 404, ["error": "not found"]) },
            methodNotAllowed: { _, _ in Self.json(status: 405, ["error": "method not allowed"]) })
        router.add("GET", "/sandbox/stats") { _ in Self.json(status: 200, self.stats()) }
        router.add("GET", "/sandbox/faults") { _ in Self.json(status: 200, self.faults) }
        router.add("PUT", "/sandbox/faults") { request in
            guard let faults = try? JSONDecoder().decode(SandboxFaults.self, from: Data(request.body)), faults.isValid else {
                return Self.json(status: 400, ["error": "expected {error_rate, http502_rate, lost_response_rate, drop_rate}, each 0...1"])
            }
            self.setFaults(faults)
            return Self.json(status: 200, faults)
        }
        router.add("GET", "/sandbox/codes") { _ in Self.json(status: 200, self.codes) }
        for method in ["PUT", "DELETE"] {
            router.add(method, "/sandbox/code") { request in
                self.handleCode(request) { self.setForcedCode($0, info: $1 ?? Self.forcedCodeInfo) }
            }
            router.add(method, "/sandbox/accounts/{user_id}/code") { request in
                let userID = request.pathParameters["user_id"] ?? ""
                return self.handleCode(request) { self.setAccountCode(userID, code: $0, info: $1 ?? Self.accountCodeInfo) }
            }
        }
        router.add("POST", "/sandbox/reset") { _ in
            self.reset()
            return Self.json(status: 200, ["reset": true])
        }
        router.add("GET", "/sandbox/accounts/{user_id}") { request in
            guard let account = self.account(request.pathParameters["user_id"] ?? "") else {
                return Self.json(status: 404, ["error": "account not found"])
            }
            return Self.json(status: 200, account)
        }
        return router
    }

    // MARK: Responses

    static func json(status: Int, _ value: some Encodable) -> HTTPResponse {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        let body = (try? encoder.encode(value)) ?? Data("{}".utf8)
        return HTTPResponse(status: status, headers: ["Content-Type": "application/json; charset=utf-8"], body: Array(body))
    }

}
