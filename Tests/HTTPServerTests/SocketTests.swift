import Glibc
import Testing

@testable import HTTPServer

@Suite("Sockets")
struct SocketTests {
    @Test(arguments: [
        ("127.0.0.1:8080", "127.0.0.1", 8080),
        (":0", "", 0),
        ("0.0.0.0:80", "0.0.0.0", 80),
        ("[::1]:8080", "::1", 8080),
        ("[::]:65535", "::", 65535),
        ("localhost:8080", "localhost", 8080),
        ("api.internal-1.example:443", "api.internal-1.example", 443),
    ])
    func parsesListenAddresses(text: String, host: String, port: Int) throws {
        let address = try ListenAddress(parsing: text)
        #expect(address.host == host)
        #expect(Int(address.port) == port)
    }

    @Test(arguments: [
        "", "8080", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:65536", "127.0.0.1:-1",
        "::1:8080", "[::1]", "[::1]8080", "[127.0.0.1]:80", "[::1:80", "256.1.1.1:80", "bad host:80", "a..b:80",
    ])
    func rejectsBadListenAddresses(text: String) {
        #expect(throws: SocketError.self) { try ListenAddress(parsing: text) }
    }

    @Test func badAddressErrorSaysWhatIsExpected() {
        do {
            _ = try ListenAddress(parsing: "127.0.0.1:99999")
            Issue.record("expected an error")
        } catch {
            #expect("\(error)".contains("port must be a number from 0 to 65535"))
            #expect("\(error)".contains("127.0.0.1:99999"))
        }
    }

    @Test func resolvesNumericAndNamedHosts() throws {
        #expect(try ListenAddress(parsing: ":9").resolve().description == "0.0.0.0:9")
        #expect(try ListenAddress(parsing: "[::1]:9").resolve().description == "[::1]:9")
        #expect(try ListenAddress(parsing: "localhost:9").resolve().port == 9)
    }

    @Test func failureCapturesErrno() {
        errno = EADDRINUSE
        #expect(SocketError.makeFailed("bind") == .failed(operation: "bind", errno: EADDRINUSE))
        #expect(SocketError.makeFailed("bind").description.contains("bind failed"))
    }

    @Test func listensOnIPv6Loopback() async throws {
        guard let address = SocketAddress(numericHost: "::1", port: 0),
              let listener = try? Socket.listening(on: address, backlog: 4) else { return }  // no IPv6 here
        let port = try listener.localAddress().port
        let server = AsyncSocket(socket: listener, loop: clientLoop)
        defer { server.close() }  // deregistered, then closed
        async let accepted = server.accept()
        let client = try await AsyncSocket.connect(
            to: try #require(SocketAddress(numericHost: "::1", port: UInt16(port))), loop: clientLoop)
        let (peer, peerAddress) = try await accepted
        #expect(peerAddress?.description.hasPrefix("[::1]:") == true)
        try await client.write(Array("ping".utf8))
        #expect(try await peer.read() == Array("ping".utf8))
        client.close()
        peer.close()
    }

    /// A connected pair on loopback: (client, server side).
    private func makePair() async throws -> (AsyncSocket, AsyncSocket) {
        let socket = try Socket.listening(on: try #require(SocketAddress(numericHost: "127.0.0.1", port: 0)), backlog: 4)
        let listener = AsyncSocket(socket: socket, loop: clientLoop)
        // Through the AsyncSocket: a registered fd must be deregistered before it is closed.
        defer { listener.close() }
        let port = try socket.localAddress().port
        async let accepted = listener.accept()
        let client = try await AsyncSocket.connect(
            to: try #require(SocketAddress(numericHost: "127.0.0.1", port: UInt16(port))), loop: clientLoop)
        return (client, try await accepted.socket)
    }

    @Test func readTimesOutAtTheDeadline() async throws {
        let (client, server) = try await makePair()
        defer { client.close(); server.close() }
        let start = ContinuousClock.now
        await #expect(throws: SocketError.timedOut) { try await server.read(deadline: .now + .milliseconds(100)) }
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(100) && elapsed < .seconds(2))
        // The socket still works after a timed-out wait.
        try await client.write([1, 2, 3])
        #expect(try await server.read(deadline: .now + .seconds(2)) == [1, 2, 3])
    }

    @Test func cancellationResumesAWaitingRead() async throws {
        let (client, server) = try await makePair()
        defer { client.close(); server.close() }
        let reader = Task { try await server.read() }
        try await Task.sleep(for: .milliseconds(20))
        reader.cancel()
        await #expect(throws: CancellationError.self) { try await reader.value }
        // And a read in an already-cancelled task fails at once.
        let cancelled = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await server.read()
        }
        await #expect(throws: CancellationError.self) { try await cancelled.value }
    }

    @Test func deregisterFailsPendingWaits() async throws {
        let (client, server) = try await makePair()
        defer { client.close(); server.close() }
        let reader = Task { try await server.read() }
        try await Task.sleep(for: .milliseconds(20))
        clientLoop.deregister(server.socket.fileDescriptor)
        await #expect(throws: SocketError.closed) { try await reader.value }
    }

    @Test func peerCloseIsDisconnected() async throws {
        let (client, server) = try await makePair()
        defer { server.close() }
        client.close()
        await #expect(throws: SocketError.disconnected) { try await server.read(deadline: .now + .seconds(2)) }
    }

    @Test func shutdownFailsWaitersAndLaterWaits() async throws {
        let loop = try EventLoop()
        let listener = try Socket.listening(on: try #require(SocketAddress(numericHost: "127.0.0.1", port: 0)), backlog: 4)
        defer { listener.close() }
        let acceptor = Task { try await AsyncSocket(socket: listener, loop: loop).accept() }
        try await Task.sleep(for: .milliseconds(20))
        loop.shutdown()
        await #expect(throws: SocketError.closed) { try await acceptor.value }
        await #expect(throws: SocketError.closed) {
            try await loop.wait(for: .readable, on: listener.fileDescriptor)
        }
    }

    @Test func manyConcurrentWaitsWithMixedDeadlines() async throws {
        // Each waiter is resumed exactly once: by data, by its deadline or by cancellation.
        var pairs: [(AsyncSocket, AsyncSocket)] = []
        for _ in 0..<20 { pairs.append(try await makePair()) }
        defer { for (a, b) in pairs { a.close(); b.close() } }
        try await withThrowingTaskGroup(of: String.self) { group in
            for (index, (client, server)) in pairs.enumerated() {
                group.addTask {
                    switch index % 3 {
                    case 0:
                        try await client.write([UInt8(index)])
                        return try await server.read(deadline: .now + .seconds(5)) == [UInt8(index)] ? "data" : "wrong"
                    case 1:
                        do { _ = try await server.read(deadline: .now + .milliseconds(Int64(10 * index))) } catch SocketError.timedOut { return "timeout" }
                        return "unexpected"
                    default:
                        let reader = Task { try await server.read() }
                        try await Task.sleep(for: .milliseconds(5))
                        reader.cancel()
                        do { _ = try await reader.value } catch is CancellationError { return "cancelled" }
                        return "unexpected"
                    }
                }
            }
            var outcomes: [String: Int] = [:]
            for try await outcome in group { outcomes[outcome, default: 0] += 1 }
            #expect(outcomes == ["data": 7, "timeout": 7, "cancelled": 6])
        }
    }
}
