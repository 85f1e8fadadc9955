import Glibc
import Synchronization
import Testing

@testable import HTTPServer

/// Real sockets on 127.0.0.1, port 0.
@Suite("HTTPServer live")
struct HTTPServerTests {
    /// Echoes method, path, query and body, and the peer address in a header.
    static let echo: HTTPHandler = { request in
        var headers: HTTPHeaders = ["Content-Type": "text/plain", "X-Remote": request.remoteAddress ?? "none"]
        headers.add("X-Method", request.method)
        let query = request.query.map { "\($0.name)=\($0.value)" }.joined(separator: "&")
        let text = "\(request.method) \(request.path)\(query.isEmpty ? "" : "?" + query) \(String(decoding: request.body, as: UTF8.self))"
        return HTTPResponse(status: 200, headers: headers, body: Array(text.utf8))
    }

    @Test func roundTrip() async throws {
        try await withServer(handler: Self.echo) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send("POST /items?name=a+b HTTP/1.1\r\nHost: test\r\nContent-Length: 5\r\n\r\nhello")
            let response = try await client.readResponse()
            #expect(response.status == 200)
            #expect(response.reason == "OK")
            #expect(response.text == "POST /items?name=a b hello")
            #expect(response.headers["Content-Type"] == "text/plain")
            #expect(response.headers.values("Content-Length") == ["26"])
            #expect(response.headers["Connection"] == nil)
            #expect(response.headers["X-Remote"]?.hasPrefix("127.0.0.1:") == true)
            // IMF-fixdate, e.g. "Sun, 06 Nov 1994 08:49:37 GMT".
            let date = try #require(response.headers["Date"])
            #expect(date.count == 29 && date.hasSuffix(" GMT") && date.dropFirst(3).hasPrefix(", "))
        }
    }

    @Test func keepAliveServesSeveralRequestsOnOneConnection() async throws {
        try await withServer(handler: Self.echo) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            for index in 1...3 {
                try await client.send("GET /n/\(index) HTTP/1.1\r\nHost: test\r\n\r\n")
                let response = try await client.readResponse()
                #expect(response.text == "GET /n/\(index) ")
            }
            try await client.send("GET /last HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            let last = try await client.readResponse()
            #expect(last.text == "GET /last ")
            #expect(last.headers["Connection"] == "close")
            #expect(try await client.readUntilClosed().isEmpty)
        }
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        try await withServer(handler: { request in
            // Later requests finish faster; order must still hold.
            let delay = request.path == "/1" ? 50 : 0
            try? await Task.sleep(for: .milliseconds(delay))
            return HTTPResponse(status: 200, body: Array(request.path.utf8))
        }) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send(
                "GET /1 HTTP/1.1\r\nHost: t\r\n\r\nPOST /2 HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhiGET /3 HTTP/1.1\r\nHost: t\r\n\r\n")
            var paths: [String] = []
            for _ in 1...3 { paths.append(try await client.readResponse().text) }
            #expect(paths == ["/1", "/2", "/3"])
        }
    }

    @Test func headGetsHeadersWithoutBody() async throws {
        try await withServer(handler: Self.echo) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send("HEAD /thing HTTP/1.1\r\nHost: t\r\n\r\nGET /after HTTP/1.1\r\nHost: t\r\n\r\n")
            let head = try await client.readResponse(hasBody: false)
            #expect(head.status == 200)
            #expect(head.headers["Content-Length"] == "12")  // the length of "HEAD /thing ", which was not sent
            // Had a body been sent, it would be read as the next status line.
            let next = try await client.readResponse()
            #expect(next.status == 200)
            #expect(next.text == "GET /after ")
        }
    }

    @Test func expectContinueIsAnsweredBeforeTheBody() async throws {
        try await withServer(handler: Self.echo) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            let body = String(repeating: "x", count: 2000)
            try await client.send("PUT /big HTTP/1.1\r\nHost: t\r\nContent-Length: 2000\r\nExpect: 100-continue\r\n\r\n")
            let interim = try await client.readResponse(hasBody: false)
            #expect(interim.status == 100)
            #expect(interim.reason == "Continue")
            try await client.send(body)
            let response = try await client.readResponse()
            #expect(response.status == 200)
            #expect(response.text == "PUT /big " + body)
        }
    }

    @Test func chunkedRequestBody() async throws {
        try await withServer(handler: Self.echo) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send("POST /c HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n")
            try await Task.sleep(for: .milliseconds(20))
            try await client.send("5\r\npedia\r\n0\r\n\r\n")
            #expect(try await client.readResponse().text == "POST /c Wikipedia")
        }
    }

    @Test func slowHeadersGet408AndAreClosed() async throws {
        try await withServer(configure: { $0.headerReadTimeout = .milliseconds(300) }) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            let start = ContinuousClock.now
            // Slowloris: a head that never ends, dribbled out.
            try await client.send("GET / HTTP/1.1\r\nHost: t\r\n")
            try await Task.sleep(for: .milliseconds(100))
            try await client.send("X-A: 1\r\n")
            try await Task.sleep(for: .milliseconds(100))
            try await client.send("X-B: 2\r\n")
            let response = try await client.readResponse()
            let elapsed = ContinuousClock.now - start
            #expect(response.status == 408)
            #expect(response.headers["Connection"] == "close")
            #expect(response.headers["Content-Type"] == "application/problem+json")
            #expect(elapsed >= .milliseconds(250) && elapsed < .seconds(3))
            #expect(try await client.readUntilClosed().isEmpty)
        }
    }

    @Test func silentConnectionGets408() async throws {
        try await withServer(configure: { $0.headerReadTimeout = .milliseconds(200) }) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            #expect(try await client.readResponse().status == 408)
            #expect(try await client.readUntilClosed().isEmpty)
        }
    }

    @Test func slowBodyGets408() async throws {
        try await withServer(configure: { $0.bodyReadTimeout = .milliseconds(200) }) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc")
            #expect(try await client.readResponse().status == 408)
            #expect(try await client.readUntilClosed().isEmpty)
        }
    }

    @Test func idleKeepAliveConnectionIsClosedSilently() async throws {
        try await withServer(configure: { $0.idleTimeout = .milliseconds(200) }) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await client.readResponse().status == 200)
            let start = ContinuousClock.now
            #expect(try await client.readUntilClosed().isEmpty)
            #expect(ContinuousClock.now - start >= .milliseconds(150))
        }
    }

    @Test func bodyTooLargeGets413AndClose() async throws {
        try await withServer(configure: { $0.maxBodyBytes = 1024 }) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send("POST /upload HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n")
            try await client.send(String(repeating: "z", count: 5000))
            let response = try await client.readResponse()
            #expect(response.status == 413)
            #expect(response.headers["Connection"] == "close")
            #expect(response.text.contains(#""status":413"#))
            #expect(try await client.readUntilClosed().isEmpty)
        }
    }

    @Test func framingErrorsCloseTheConnectionThroughTheErrorResponder() async throws {
        try await withServer(configure: { configuration in
            configuration.errorResponder = { refusal in
                HTTPResponse(status: refusal.status, headers: ["X-Request-Id": refusal.head?.headers["X-Request-Id"] ?? "none"],
                             body: Array("custom \(refusal.status): \(refusal.detail)".utf8))
            }
        }) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send("GET / HTTP/1.1\r\nHost: t\r\nX-Request-Id: rid-1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab")
            let response = try await client.readResponse()
            #expect(response.status == 400)
            #expect(response.reason == "Bad Request")
            #expect(response.headers["X-Request-Id"] == "rid-1")
            #expect(response.headers["Connection"] == "close")
            #expect(response.text == "custom 400: conflicting Content-Length values")
            #expect(try await client.readUntilClosed().isEmpty)

            var other = try await TestClient.connect(port: port)
            defer { other.close() }
            try await other.send("GET / HTTP/2.0\r\n\r\n")
            #expect(try await other.readResponse().status == 505)
        }
    }

    @Test func http10ClosesUnlessAskedToKeepAlive() async throws {
        try await withServer { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let kept = try await client.readResponse()
            #expect(kept.headers["Connection"] == "keep-alive")
            try await client.send("GET /b HTTP/1.0\r\n\r\n")
            let closed = try await client.readResponse()
            #expect(closed.text == "/b")
            #expect(closed.headers["Connection"] == "close")
            #expect(try await client.readUntilClosed().isEmpty)
        }
    }

    @Test func serverOwnsFramingHeaders() async throws {
        try await withServer(handler: { _ in
            HTTPResponse(
                status: 201, headers: ["Content-Length": "999", "Connection": "keep-alive", "Date": "Tue, 01 Jan 2030 00:00:00 GMT"],
                body: Array("ok".utf8))
        }) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 201)
            #expect(response.reason == "Created")
            #expect(response.headers.values("Content-Length") == ["2"])
            #expect(response.headers.values("Date") == ["Tue, 01 Jan 2030 00:00:00 GMT"])
            #expect(response.headers["Connection"] == nil)
            #expect(response.text == "ok")
        }
    }

    @Test func handlerCanCloseTheConnection() async throws {
        try await withServer(handler: { _ in HTTPResponse(status: 200, headers: ["Connection": "close"]) }) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.headers.values("Connection") == ["close"])
            #expect(try await client.readUntilClosed().isEmpty)
        }
    }

    @Test func gracefulStopLetsInFlightRequestsFinish() async throws {
        let entered = AsyncStream.makeStream(of: Void.self)
        let release = Gate()
        let server = HTTPServer(
            configuration: .init(address: try ListenAddress(parsing: "127.0.0.1:0")), logger: quietLogger
        ) { request in
            if request.path == "/slow" {
                entered.continuation.yield()
                await release.wait()
                return HTTPResponse(status: 200, body: Array("finished".utf8))
            }
            return HTTPResponse(status: 200)
        }
        let port = try await server.start()
        #expect(await server.listeningPort == port)

        var slow = try await TestClient.connect(port: port)
        try await slow.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
        var iterator = entered.stream.makeAsyncIterator()
        await iterator.next()

        var idle = try await TestClient.connect(port: port)
        defer { idle.close() }
        try await idle.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        #expect(try await idle.readResponse().status == 200)

        let stopping = Task { await server.stop(gracePeriod: .seconds(5)) }
        #expect(await eventually { await server.listeningPort == nil })

        // Idle keep-alive connections are closed at once; new ones are refused.
        #expect(try await idle.readUntilClosed(timeout: .seconds(1)).isEmpty)
        await #expect(throws: SocketError.failed(operation: "connect", errno: ECONNREFUSED)) {
            _ = try await TestClient.connect(port: port)
        }

        // The request in flight still gets its answer, with Connection: close.
        release.open()
        let response = try await slow.readResponse()
        #expect(response.status == 200)
        #expect(response.text == "finished")
        #expect(response.headers["Connection"] == "close")
        #expect(try await slow.readUntilClosed().isEmpty)
        // Closing our end ends the server's lingering close at once.
        slow.close()
        await stopping.value
    }

    @Test func stopCancelsWhatOutlivesTheGracePeriod() async throws {
        let entered = AsyncStream.makeStream(of: Void.self)
        let sawCancellation = Mutex(false)
        let server = HTTPServer(
            configuration: .init(address: try ListenAddress(parsing: "127.0.0.1:0")), logger: quietLogger
        ) { _ in
            entered.continuation.yield()
            try? await Task.sleep(for: .seconds(30))
            sawCancellation.withLock { $0 = Task.isCancelled }
            return HTTPResponse(status: 200)
        }
        let port = try await server.start()
        let client = try await TestClient.connect(port: port)
        defer { client.close() }
        try await client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        var iterator = entered.stream.makeAsyncIterator()
        await iterator.next()

        let start = ContinuousClock.now
        await server.stop(gracePeriod: .milliseconds(200))
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(200) && elapsed < .seconds(3))
        #expect(sawCancellation.withLock { $0 })
        // Stopping twice is harmless.
        await server.stop(gracePeriod: .zero)
    }

    @Test func runReturnsOnceStopped() async throws {
        let server = HTTPServer(
            configuration: .init(address: try ListenAddress(parsing: "127.0.0.1:0")), logger: quietLogger, handler: Self.echo)
        let running = Task { try await server.run() }
        #expect(await eventually { await server.listeningPort != nil })
        await #expect(throws: HTTPServer.LifecycleError.alreadyStarted) { try await server.start() }
        await server.stop(gracePeriod: .seconds(1))
        try await running.value
    }

    @Test func routerThroughTheServer() async throws {
        var router = Router()
        router.add("GET", "/accounts/{user_id}") { request in
            HTTPResponse(status: 200, body: Array("account \(request.pathParameters["user_id"] ?? "?") \(request.routePattern ?? "")".utf8))
        }
        router.add("POST", "/accounts/batch") { _ in HTTPResponse(status: 202) }
        try await withServer(handler: router.handler) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send("GET /accounts/j%C3%B6rg HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await client.readResponse().text == "account jörg /accounts/{user_id}")
            try await client.send("GET /accounts/batch HTTP/1.1\r\nHost: t\r\n\r\n")
            let notAllowed = try await client.readResponse()
            #expect(notAllowed.status == 405)
            #expect(notAllowed.headers["Allow"] == "POST")
            try await client.send("GET /nowhere HTTP/1.1\r\nHost: t\r\n\r\n")
            let notFound = try await client.readResponse()
            #expect(notFound.status == 404)
            #expect(notFound.headers["Content-Type"] == "application/problem+json")
            #expect(notFound.text == #"{"type":"about:blank","title":"Not Found","status":404,"detail":"no route for GET /nowhere"}"#)
        }
    }

    @Test func listensOnAnIPv6Address() async throws {
        guard let probe = try? Socket.listening(on: try #require(SocketAddress(numericHost: "::1", port: 0)), backlog: 1) else { return }
        probe.close()
        let server = HTTPServer(configuration: .init(address: try ListenAddress(parsing: "[::1]:0")), logger: quietLogger, handler: Self.echo)
        let port = try await server.start()
        let socket = try await AsyncSocket.connect(to: try #require(SocketAddress(numericHost: "::1", port: UInt16(port))), loop: clientLoop)
        var client = TestClient(socket: socket)
        defer { client.close() }
        try await client.send("GET /v6 HTTP/1.1\r\nHost: t\r\n\r\n")
        let response = try await client.readResponse()
        #expect(response.headers["X-Remote"]?.hasPrefix("[::1]:") == true)
        await server.stop(gracePeriod: .seconds(1))
    }
}
