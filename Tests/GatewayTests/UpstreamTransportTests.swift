import Foundation
import HTTPServer
import Synchronization
import Testing
import TencentChat
@testable import Gateway

/// Both transports against a real local server, with the rules they share:
/// redirects refused, the total timeout kept, no call queued for a connection
/// below the cap, a closed port failing fast. `CurlTransportTests` adds what
/// only the libcurl one does.
@Suite struct UpstreamTransportTests {
    /// The transports this machine can run: URLSession always, libcurl where it loads.
    static let transports: [UpstreamTransport] = UpstreamTransport.allCases.filter { $0 != .curl || CurlTransport.isAvailable }

    static func make(_ kind: UpstreamTransport, maxConnections: Int? = nil) throws -> any TencentTransport {
        switch kind {
        case .curl: try CurlTransport(maxConnections: maxConnections ?? CurlTransport.defaultMaxConnections)
        case .urlsession: URLSessionTransport(maxConnectionsPerHost: maxConnections ?? URLSessionTransport.defaultMaxConnectionsPerHost)
        }
    }

    static let ok = Array(#"{"ActionStatus":"OK","ErrorCode":0}"#.utf8)

    /// Runs `body` with the account_import URL of a local server answering with `handler`.
    static func withServer(_ handler: @escaping HTTPHandler, _ body: (URL) async throws -> Void) async throws {
        let server = HTTPServer(configuration: HTTPServer.Configuration(address: ListenAddress(host: "127.0.0.1", port: 0)),
                                logger: TestLogger.make(), handler: handler)
        let port = try await server.start()
        do {
            try await body(URL(string: "http://127.0.0.1:\(port)/v4/im_open_login_svc/account_import?sdkappid=1")!)
        } catch {
            await server.stop(gracePeriod: .zero)
            throw error
        }
        await server.stop(gracePeriod: .zero)
    }

    @Test(arguments: transports)
    func redirectsAreRefusedNotFollowed(_ kind: UpstreamTransport) async throws {
        try await Self.withServer({ request in
            if request.path == "/elsewhere" { return HTTPResponse(status: 200, body: Self.ok) }
            var headers = HTTPHeaders()
            headers.set("Location", "/elsewhere")
            return HTTPResponse(status: 302, headers: headers)
        }) { url in
            let (status, _) = try await Self.make(kind).post(url: url, body: Data("{}".utf8), timeout: .seconds(5))
            #expect(status == 302)
        }
    }

    @Test(arguments: transports)
    func theTotalTimeoutHolds(_ kind: UpstreamTransport) async throws {
        try await Self.withServer({ _ in
            try? await Task.sleep(for: .seconds(3))
            return HTTPResponse(status: 200)
        }) { url in
            let transport = try Self.make(kind)
            let started = ContinuousClock.now
            await #expect(throws: TencentTransportError.timedOut) {
                _ = try await transport.post(url: url, body: Data("{}".utf8), timeout: .milliseconds(500))
            }
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(2), "\(elapsed)")
        }
    }

    /// Calls under way at once each get a connection: none waits inside the
    /// transport for another call's answer (and so past its rate-limit slot).
    /// With 16 connections, 100–200 ms answers held one replica to about 100 calls/s.
    @Test(arguments: transports)
    func concurrentCallsDoNotQueueForAConnection(_ kind: UpstreamTransport) async throws {
        let (statuses, most) = try await Self.callAtOnce(48, through: try Self.make(kind), holding: .seconds(1))
        #expect(statuses == Array(repeating: 200, count: 48))
        #expect(most == 48, "at most \(most) calls were under way at once")
    }

    /// Makes `calls` calls at once through `transport` to a server that holds each
    /// for `hold`; the statuses, and the most calls the server had under way at once.
    static func callAtOnce(_ calls: Int, through transport: any TencentTransport, holding hold: Duration)
        async throws -> (statuses: [Int], most: Int)
    {
        let running = Atomic<Int>(0)
        let most = Atomic<Int>(0)
        var statuses: [Int] = []
        try await withServer({ _ in
            let now = running.add(1, ordering: .relaxed).newValue
            most.max(now, ordering: .relaxed)
            try? await Task.sleep(for: hold)
            running.subtract(1, ordering: .relaxed)
            return HTTPResponse(status: 200, body: ok)
        }) { url in
            statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<calls {
                    group.addTask { try await transport.post(url: url, body: Data("{}".utf8), timeout: .seconds(10)).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
        }
        return (statuses, most.load(ordering: .relaxed))
    }

    @Test(arguments: transports)
    func aClosedPortFailsFastAsCannotConnect(_ kind: UpstreamTransport) async throws {
        let transport = try Self.make(kind)
        let started = ContinuousClock.now
        do {
            _ = try await transport.post(url: URL(string: "http://127.0.0.1:1/v4/x/y")!, body: Data("{}".utf8), timeout: .seconds(5))
            Issue.record("a closed port answered")
        } catch let error as TencentTransportError {
            guard case .cannotConnect = error else { Issue.record("\(error)"); return }
        }
        #expect(ContinuousClock.now - started < .seconds(2))
    }
}
