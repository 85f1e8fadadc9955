import Foundation
import HTTPServer
import Logging
import Synchronization
import TencentChat
import TencentSandbox

/// A clock that moves only when told to.
final class TestClock: Sendable {
    private let current: Mutex<Date>

    init(_ start: Date = Date(timeIntervalSince1970: 1_764_000_000)) {
        current = Mutex(start)
    }

    var now: Date { current.withLock { $0 } }

    func advance(by seconds: TimeInterval) {
        current.withLock { $0 += seconds }
    }

    var function: @Sendable () -> Date { { self.now } }
}

/// Records requests and answers from a script of canned responses.
final class FakeTransport: TencentTransport {
    typealias Answer = Result<(status: Int, body: Data), TencentTransportError>

    struct Request: Sendable {
        var url: URL
        var body: Data
        var timeout: Duration
        var query: [String: String] {
            let items = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []
            return Dictionary(items.map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { first, _ in first })
        }
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:]
        }
    }

    private let state: Mutex<(script: [Answer], requests: [Request])>

    init(_ script: [Answer]) {
        state = Mutex((script, []))
    }

    var requests: [Request] { state.withLock { $0.requests } }

    func post(url: URL, body: Data, timeout: Duration) async throws -> (status: Int, body: Data) {
        let answer = state.withLock { state -> Answer in
            state.requests.append(Request(url: url, body: body, timeout: timeout))
            return state.script.isEmpty ? .success((200, Data(#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#.utf8))) : state.script.removeFirst()
        }
        return try answer.get()
    }

    static func reply(_ json: String, status: Int = 200) -> Answer {
        .success((status, Data(json.utf8)))
    }

    static func tencent(_ code: Int, info: String = "") -> Answer {
        reply(#"{"ActionStatus":"\#(code == 0 ? "OK" : "FAIL")","ErrorCode":\#(code),"ErrorInfo":"\#(info)"}"#)
    }
}

/// Hands each call straight to the sandbox's handler, as the HTTP server would.
struct SandboxTransport: TencentTransport {
    let handler: HTTPHandler

    func post(url: URL, body: Data, timeout: Duration) async throws -> (status: Int, body: Data) {
        let components = URLComponents(url: url, resolvingAgainstBaseURL: false)!
        let query = (components.queryItems ?? []).map { (name: $0.name, value: $0.value ?? "") }
        let request = HTTPRequest(
            method: "POST", target: components.percentEncodedPath + "?" + (components.percentEncodedQuery ?? ""),
            path: components.path, query: query,
            headers: ["Content-Type": "application/json"], body: Array(body))
        let response = await handler(request)
        return (response.status, Data(response.body))
    }
}

enum Fixture {
    static let sdkAppID = 1_400_000_000
    static let secretKey = "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e"
    static let admin = "administrator"

    static var logger: Logger {
        var logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        logger.logLevel = .critical
        return logger
    }

    static func sandbox(
        clock: TestClock, seed: UInt64 = 42, _ configure: (inout SandboxConfiguration) -> Void = { _ in }
    ) -> SandboxService {
        var configuration = SandboxConfiguration(sdkAppID: sdkAppID, secretKey: secretKey)
        configure(&configuration)
        return SandboxService(
            configuration: configuration, logger: logger, now: clock.function,
            random: SeededRandomNumberGenerator(seed: seed), sleep: { _ in })
    }

    /// A well-formed `/v4` request, with the parts a test wants to spoil overridable.
    static func request(
        _ command: String, body: String, clock: TestClock,
        identifier: String = admin, userSig: String? = nil, sdkAppID: String = String(sdkAppID),
        random: String = "12345", contenttype: String = "json", method: String = "POST",
        service: String = "im_open_login_svc"
    ) -> HTTPRequest {
        let sig = userSig ?? UserSig.generate(identifier: identifier, sdkAppID: Self.sdkAppID, secretKey: secretKey, now: clock.now)
        let path = "/v4/\(service)/\(command)"
        let query = [
            (name: "sdkappid", value: sdkAppID), (name: "identifier", value: identifier), (name: "usersig", value: sig),
            (name: "random", value: random), (name: "contenttype", value: contenttype),
        ]
        return HTTPRequest(method: method, target: path, path: path, query: query, body: Array(body.utf8))
    }

    static func json(_ response: HTTPResponse) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]) ?? [:]
    }

    static func code(_ response: HTTPResponse) -> Int? {
        json(response)["ErrorCode"] as? Int
    }
}
