import Foundation
import HTTPServer
import Synchronization
import Testing
@testable import TencentChat

/// What only `CurlTransport` does, against a real local server: what the
/// request carries, keep-alive, cancellation, the cap on threads, a bounded
/// answer, and its error classes. What both transports share is in
/// `UpstreamTransportTests`.
@Suite(.enabled(if: CurlTransport.isAvailable, "libcurl 7.85 or newer is not loadable here"))
struct CurlTransportTests {
    /// A POST with the JSON body as given, JSON content type and accept, no
    /// `Expect: 100-continue` (a larger body would wait a round trip for it), and
    /// the next call on the same connection.
    @Test func aPostCarriesItsBodyAndKeepsItsConnection() async throws {
        struct Seen: Sendable { var method: String; var path: String; var contentType: String?; var accept: String?
                                var expect: String?; var body: [UInt8]; var peer: String? }
        let seen = Mutex<[Seen]>([])
        let body = Data(("{\"Nick\":\"" + String(repeating: "n", count: 5000) + "\"}").utf8)
        try await UpstreamTransportTests.withServer({ request in
            seen.withLock {
                $0.append(Seen(method: request.method, path: request.target, contentType: request.headers["Content-Type"],
                               accept: request.headers["Accept"], expect: request.headers["Expect"], body: request.body,
                               peer: request.remoteAddress))
            }
            return HTTPResponse(status: 200, body: UpstreamTransportTests.ok)
        }) { url in
            let transport = try CurlTransport()
            for _ in 0..<2 {
                let (status, answer) = try await transport.post(url: url, body: body, timeout: .seconds(5))
                #expect(status == 200)
                #expect(Array(answer) == UpstreamTransportTests.ok)
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

    /// A cancelled call ends at once, as cancelled; its thread is free again soon after.
    @Test func aCancelledCallEndsAtOnce() async throws {
        try await UpstreamTransportTests.withServer({ request in
            if request.path.hasSuffix("account_import") { try? await Task.sleep(for: .seconds(3)) }
            return HTTPResponse(status: 200, body: UpstreamTransportTests.ok)
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

    /// Beyond the cap calls wait their turn for a thread, and all of them are answered.
    /// (Below it none waits: `UpstreamTransportTests.concurrentCallsDoNotQueueForAConnection`.)
    @Test func callsBeyondTheCapWaitTheirTurn() async throws {
        let (statuses, most) = try await UpstreamTransportTests.callAtOnce(
            6, through: try CurlTransport(maxConnections: 2), holding: .milliseconds(300))
        #expect(statuses == Array(repeating: 200, count: 6))
        #expect(most == 2, "at most \(most) calls were under way at once")
    }

    @Test func anAnswerOverTheLimitIsRefused() async throws {
        try await UpstreamTransportTests.withServer({ _ in
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
