import Foundation
import HTTPServer
import Synchronization
import Testing
@testable import TencentChat

/// libcurl's easy interface against a real local server: what the request
/// carries, keep-alive, redirects refused, the total timeout, cancellation,
/// the connection cap, a bounded answer, and the error classes.
@Suite(.enabled(if: CurlTransport.isAvailable, "libcurl 7.85 or newer is not loadable here"))
struct CurlTransportTests {
    static let ok = Array(#"{"ActionStatus":"OK","ErrorCode":0}"#.utf8)

    func withServer(_ handler: @escaping HTTPHandler, _ body: (URL) async throws -> Void) async throws {
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

    /// A POST with the JSON body as given, JSON content type and accept, no
    /// `Expect: 100-continue` (a larger body would wait a round trip for it), and
    /// the next call on the same connection.
    @Test func aPostCarriesItsBodyAndKeepsItsConnection() async throws {
        struct Seen: Sendable { var method: String; var path: String; var contentType: String?; var accept: String?
                                var expect: String?; var body: [UInt8]; var peer: String? }
        let seen = Mutex<[Seen]>([])
        let body = Data(("{\"Nick\":\"" + String(repeating: "n", count: 5000) + "\"}").utf8)
        try await withServer({ request in
            seen.withLock {
                $0.append(Seen(method: request.method, path: request.target, contentType: request.headers["Content-Type"],
                               accept: request.headers["Accept"], expect: request.headers["Expect"], body: request.body,
                               peer: request.remoteAddress))
            }
            return HTTPResponse(status: 200, body: Self.ok)
        }) { url in
            let transport = try CurlTransport()
            for _ in 0..<2 {
                let (status, answer) = try await transport.post(url: url, body: body, timeout: .seconds(5))
                #expect(status == 200)
                #expect(Array(answer) == Self.ok)
            }
        }
        let requests = seen.withLock { $0 }
        #expect(requests.count == 2)
        for request in requests {
            #expect(request.method == "POST")
            #expect(request.path == "/v4/im_open_login_svc/account_import?sdkappid=1")
            #expect(request.contentType == "application/json")
            #expect(request.accept == "application/json")
            #expect(request.expect == nil)
            #expect(request.body == Array(body))
        }
        #expect(requests.first?.peer != nil && requests.first?.peer == requests.last?.peer, "\(requests.map(\.peer))")
    }

    @Test func redirectsAreRefusedNotFollowed() async throws {
        try await withServer({ request in
            if request.path == "/elsewhere" { return HTTPResponse(status: 200, body: Self.ok) }
            var headers = HTTPHeaders()
            headers.set("Location", "/elsewhere")
            return HTTPResponse(status: 302, headers: headers)
        }) { url in
            let (status, _) = try await CurlTransport().post(url: url, body: Data("{}".utf8), timeout: .seconds(5))
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
                _ = try await CurlTransport().post(url: url, body: Data("{}".utf8), timeout: .milliseconds(500))
            }
            let elapsed = ContinuousClock.now - started
            #expect(elapsed >= .milliseconds(450) && elapsed < .seconds(2), "\(elapsed)")
        }
    }

    /// A cancelled call ends at once, as cancelled; its thread is free again soon after.
    @Test func aCancelledCallEndsAtOnce() async throws {
        try await withServer({ request in
            if request.path.hasSuffix("account_import") { try? await Task.sleep(for: .seconds(3)) }
            return HTTPResponse(status: 200, body: Self.ok)
        }) { url in
            let transport = try CurlTransport(maxConnections: 1)
            let call = Task { try await transport.post(url: url, body: Data("{}".utf8), timeout: .seconds(10)) }
            try await Task.sleep(for: .milliseconds(200))
            let cancelled = ContinuousClock.now
            call.cancel()
            await #expect(throws: TencentTransportError.cancelled) { _ = try await call.value }
            #expect(ContinuousClock.now - cancelled < .milliseconds(200))
            // The one thread stops the aborted transfer and takes the next call.
            let other = URL(string: url.absoluteString.replacingOccurrences(of: "account_import?sdkappid=1", with: "other"))!
            let (status, _) = try await transport.post(url: other, body: Data("{}".utf8), timeout: .seconds(5))
            #expect(status == 200)
            #expect(ContinuousClock.now - cancelled < .seconds(2))
        }
    }

    /// Calls under way at once each get a connection up to the cap; beyond it they wait their turn.
    @Test(arguments: [(48, 48), (6, 2)])
    func callsRunAtOnceUpToTheCap(calls: Int, cap: Int) async throws {
        let running = Atomic<Int>(0)
        let most = Atomic<Int>(0)
        try await withServer({ _ in
            let now = running.add(1, ordering: .relaxed).newValue
            most.max(now, ordering: .relaxed)
            try? await Task.sleep(for: .milliseconds(cap == calls ? 1000 : 300))
            running.subtract(1, ordering: .relaxed)
            return HTTPResponse(status: 200, body: Self.ok)
        }) { url in
            let transport = try CurlTransport(maxConnections: cap)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<calls {
                    group.addTask { try await transport.post(url: url, body: Data("{}".utf8), timeout: .seconds(10)).status }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: calls))
        }
        #expect(most.load(ordering: .relaxed) == cap, "at most \(most.load(ordering: .relaxed)) calls were under way at once")
    }

    @Test func aClosedPortFailsFastAsCannotConnect() async throws {
        let started = ContinuousClock.now
        do {
            _ = try await CurlTransport().post(url: URL(string: "http://127.0.0.1:1/v4/x/y")!, body: Data("{}".utf8), timeout: .seconds(5))
            Issue.record("a closed port answered")
        } catch let error as TencentTransportError {
            guard case .cannotConnect = error else { Issue.record("\(error)"); return }
        }
        #expect(ContinuousClock.now - started < .seconds(2))
    }

    @Test func anAnswerOverTheLimitIsRefused() async throws {
        try await withServer({ _ in
            HTTPResponse(status: 200, body: Array(repeating: UInt8(ascii: "x"), count: CurlTransport.maxAnswerBytes + 1))
        }) { url in
            do {
                _ = try await CurlTransport().post(url: url, body: Data("{}".utf8), timeout: .seconds(5))
                Issue.record("an answer over the limit was taken")
            } catch let error as TencentTransportError {
                guard case .other(let detail) = error, detail.contains("longer than") else { Issue.record("\(error)"); return }
            }
        }
    }

    @Test func onlyHTTPAndHTTPSAreCalled() async throws {
        await #expect(throws: TencentTransportError.other("unsupported URL scheme")) {
            _ = try await CurlTransport().post(url: URL(string: "file:///etc/passwd")!, body: Data(), timeout: .seconds(1))
        }
    }

    @Test func libcurlCodesMapToTheTransportsClasses() {
        #expect(CurlTransport.map(code: 28) == .timedOut)
        #expect(CurlTransport.map(code: 42) == .cancelled)
        #expect(CurlTransport.map(code: 7) == .cannotConnect("libcurl error 7"))
        #expect(CurlTransport.map(code: 6) == .cannotConnect("libcurl error 6"))
        #expect(CurlTransport.map(code: 52) == .connectionLost("libcurl error 52"))
        #expect(CurlTransport.map(code: 56) == .connectionLost("libcurl error 56"))
        #expect(CurlTransport.map(code: 60) == .tls("libcurl error 60 (certificate or handshake)"))
        #expect(CurlTransport.map(code: 35) == .tls("libcurl error 35 (certificate or handshake)"))
        #expect(CurlTransport.map(code: 3) == .other("libcurl error 3"))
    }
}
