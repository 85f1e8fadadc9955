import Foundation
import HTTPServer
import Synchronization
import Testing
import TencentChat
@testable import Gateway

/// The real transport against a real local server: redirects refused, the total timeout kept.
@Suite struct URLSessionTransportTests {
    func withServer(_ handler: @escaping HTTPHandler, _ body: (URL) async throws -> Void) async throws {
        let server = HTTPServer(configuration: HTTPServer.Configuration(address: ListenAddress(host: "127.0.0.1", port: 0)),
                                logger: TestLogger.make(), handler: handler)
        let port = try await server.start()
        do {
            try await body(URL(string: "http://127.0.0.1:\(port)/v4/im_open_login_svc/account_import")!)
        } catch {
            await server.stop(gracePeriod: .zero)
            throw error
        }
        await server.stop(gracePeriod: .zero)
    }

    @Test func redirectsAreRefusedNotFollowed() async throws {
        try await withServer({ request in
            if request.path == "/elsewhere" { return HTTPResponse(status: 200, body: Array(#"{"ActionStatus":"OK","ErrorCode":0}"#.utf8)) }
            var headers = HTTPHeaders()
            headers.set("Location", "/elsewhere")
            return HTTPResponse(status: 302, headers: headers)
        }) { url in
            let (status, _) = try await URLSessionTransport().post(url: url, body: Data("{}".utf8), timeout: .seconds(5))
            #expect(status == 302)
        }
    }

    @Test func theTotalTimeoutHolds() async throws {
        try await withServer({ _ in
            try? await Task.sleep(for: .seconds(3))
            return HTTPResponse(status: 200)
        }) { url in
            let started = ContinuousClock.now
            await #expect(throws: TencentTransportError.timedOut) {
                _ = try await URLSessionTransport().post(url: url, body: Data("{}".utf8), timeout: .milliseconds(500))
            }
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(2), "\(elapsed)")
        }
    }

    /// Calls under way at once each get a connection: none waits inside URLSession
    /// for another call's answer (and so past its rate-limit slot). With 16
    /// connections, 100–200 ms answers held one replica to about 100 calls/s.
    @Test func concurrentCallsDoNotQueueForAConnection() async throws {
        let calls = 48
        let running = Atomic<Int>(0)
        let most = Atomic<Int>(0)
        try await withServer({ _ in
            let now = running.add(1, ordering: .relaxed).newValue
            most.max(now, ordering: .relaxed)
            try? await Task.sleep(for: .seconds(1))
            running.subtract(1, ordering: .relaxed)
            return HTTPResponse(status: 200, body: Array(#"{"ActionStatus":"OK","ErrorCode":0}"#.utf8))
        }) { url in
            let transport = URLSessionTransport()
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<calls {
                    group.addTask { try await transport.post(url: url, body: Data("{}".utf8), timeout: .seconds(5)).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: calls))
        }
        #expect(most.load(ordering: .relaxed) == calls, "at most \(most.load(ordering: .relaxed)) calls were under way at once")
    }

    @Test func aClosedPortFailsFast() async throws {
        let started = ContinuousClock.now
        await #expect(throws: TencentTransportError.self) {
            _ = try await URLSessionTransport().post(url: URL(string: "http://127.0.0.1:1/v4/x/y")!, body: Data("{}".utf8), timeout: .seconds(5))
        }
        do {
            _ = try await URLSessionTransport().post(url: URL(string: "http://127.0.0.1:1/v4/x/y")!, body: Data("{}".utf8), timeout: .seconds(5))
        } catch let error as TencentTransportError {
            guard case .cannotConnect = error else { Issue.record("\(error)"); return }
        }
        #expect(ContinuousClock.now - started < .seconds(2))
    }
}
