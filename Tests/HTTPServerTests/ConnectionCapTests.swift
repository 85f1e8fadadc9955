import Glibc
import Testing

@testable import HTTPServer

/// Connection management at the caps, over real sockets.
@Suite("Connection caps")
struct ConnectionCapTests {
    /// Idle keep-alive connections cannot lock others out: at the cap, the one idle
    /// the longest is closed and the new client is served.
    @Test func theLongestIdleConnectionMakesRoomAtTheCap() async throws {
        try await withServer(configure: { $0.maxConnections = 3 }) { server, port in
            var idle: [TestClient] = []
            for i in 0..<3 {
                var client = try await TestClient.connect(port: port)
                try await client.send("GET /idle\(i) HTTP/1.1\r\nHost: t\r\n\r\n")
                #expect(try await client.readResponse().status == 200)
                idle.append(client)
                try await Task.sleep(for: .milliseconds(20))  // idle since in this order
            }
            defer { idle.forEach { $0.close() } }

            var newcomer = try await TestClient.connect(port: port)
            defer { newcomer.close() }
            let started = ContinuousClock.now
            try await newcomer.send("GET /new HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try await newcomer.readResponse(timeout: .seconds(2))
            #expect(response.status == 200)
            #expect(ContinuousClock.now - started < .seconds(2))
            // The first one, idle the longest, was closed; the others still serve.
            #expect((try? await idle[0].readUntilClosed(timeout: .seconds(2))) != nil)
            try await idle[2].send("GET /again HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await idle[2].readResponse().status == 200)
        }
    }

    /// With no idle connection to close, a new one is still told at once (503).
    @Test func busyConnectionsAtTheCapGet503() async throws {
        let gate = Gate()
        try await withServer(configure: { $0.maxConnections = 1 }, handler: { _ in
            await gate.wait()
            return HTTPResponse(status: 200)
        }) { _, port in
            var busy = try await TestClient.connect(port: port)
            defer { busy.close() }
            try await busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            try await Task.sleep(for: .milliseconds(100))
            var second = try await TestClient.connect(port: port)
            defer { second.close() }
            let refused = try await second.readResponse()
            #expect(refused.status == 503)
            #expect(refused.headers["Retry-After"] == "1")
            #expect(refused.text.contains("too many connections (at most 1)"))
            #expect(try await second.readUntilClosed().isEmpty)
            gate.open()
            #expect(try await busy.readResponse().status == 200)

            // A slot frees once a connection closes.
            busy.close()
            let admitted = try await eventually {
                var client = try await TestClient.connect(port: port)
                defer { client.close() }
                try await client.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                return try await client.readResponse().status == 200
            }
            #expect(admitted)
        }
    }

    /// One client address cannot take every connection: at its cap its own longest
    /// idle connection makes room, and with none idle it is refused.
    @Test func oneClientIsCapped() async throws {
        let gate = Gate()
        try await withServer(configure: { $0.maxConnectionsPerClient = 2 }, handler: { request in
            if request.path == "/slow" { await gate.wait() }
            return HTTPResponse(status: 200)
        }) { _, port in
            var idle = try await TestClient.connect(port: port)
            defer { idle.close() }
            try await idle.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await idle.readResponse().status == 200)
            var busy = try await TestClient.connect(port: port)
            defer { busy.close() }
            try await busy.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
            try await Task.sleep(for: .milliseconds(50))

            var third = try await TestClient.connect(port: port)
            defer { third.close() }
            try await third.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
            #expect(try await third.readResponse().status == 200)  // the idle one made room
            #expect((try? await idle.readUntilClosed(timeout: .seconds(2))) != nil)
            gate.open()
            #expect(try await busy.readResponse().status == 200)
        }
    }

    @Test func aClientAtItsCapWithNothingIdleIsRefused() async throws {
        let gate = Gate()
        try await withServer(configure: { $0.maxConnectionsPerClient = 2 }, handler: { _ in
            await gate.wait()
            return HTTPResponse(status: 200)
        }) { _, port in
            var busy: [TestClient] = []
            for _ in 0..<2 {
                let client = try await TestClient.connect(port: port)
                try await client.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n")
                busy.append(client)
            }
            defer { busy.forEach { $0.close() } }
            try await Task.sleep(for: .milliseconds(50))
            var third = try await TestClient.connect(port: port)
            defer { third.close() }
            // Found from outside: the answer named the server's cap, not the address's.
            let refused = try await third.readResponse()
            #expect(refused.status == 503)
            #expect(refused.headers["Retry-After"] == "1")
            #expect(refused.text.contains("too many connections from this address (at most 2)"))
            gate.open()
        }
    }
}

@Suite struct ServerLimitsTests {
    @Test func repeatedWarningsAreLoggedOncePerInterval() {
        var warning = RateLimitedWarning()
        let start = ContinuousClock.now
        #expect(warning.due(now: start) == 0)
        for i in 1...100 { #expect(warning.due(now: start + .milliseconds(50 * i)) == nil) }
        #expect(warning.due(now: start + .seconds(11)) == 100)
    }

    /// The descriptor limit is raised as far as allowed, and what it allows is said.
    @Test func theDescriptorLimitCoversTheConnections() {
        let allowed = DescriptorLimit.ensure(connections: 1024, logger: quietLogger)
        var limit = rlimit()
        #expect(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        #expect(allowed == min(1024, Int(limit.rlim_cur) - DescriptorLimit.reserve))
        if limit.rlim_max >= 1024 + rlim_t(DescriptorLimit.reserve) { #expect(allowed == 1024) }
    }
}

/// Out of descriptors (EMFILE), the server gives up its spare descriptor to take
/// the waiting connection and close it at once, so that client is not left
/// hanging in the listen backlog. (Exhausting the test process's own descriptors
/// would take the test runner down with it, so the spare is exercised directly.)
@Suite struct SpareDescriptorTests {
    @Test func theWaitingClientIsClosedAndTheSpareTakenBack() async throws {
        let listener = try Socket.listening(on: try ListenAddress(parsing: "127.0.0.1:0").resolve(), backlog: 8)
        defer { listener.close() }
        let spare = SpareDescriptor()
        defer { spare.release() }
        var client = try await TestClient.connect(port: try listener.localAddress().port)
        defer { client.close() }
        try await Task.sleep(for: .milliseconds(50))  // the handshake completes in the backlog
        spare.refuseOne(on: listener)
        #expect(try await client.readUntilClosed(timeout: .seconds(2)).isEmpty)
        #expect(spare.isHeld)
    }
}
