import Glibc
import Logging
import Synchronization
import Testing

@testable import HTTPServer

/// The event loop the test clients wait on (the server has its own).
let clientLoop: EventLoop = {
    do { return try EventLoop() } catch { fatalError("cannot start the test event loop: \(error)") }
}()

let quietLogger = Logger(label: "HTTPServerTests") { _ in SwiftLogNoOpLogHandler() }

/// A response as a test client reads it off the wire.
struct WireResponse {
    var status: Int
    var reason: String
    var headers: HTTPHeaders
    var body: [UInt8]
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// A raw HTTP client over the package's own async sockets, so tests never
/// block a cooperative thread the server needs.
struct TestClient {
    let socket: AsyncSocket
    private var buffer: [UInt8] = []

    init(socket: AsyncSocket) {
        self.socket = socket
    }

    static func connect(port: Int) async throws -> TestClient {
        guard let address = SocketAddress(numericHost: "127.0.0.1", port: UInt16(port)) else { throw SocketError.invalidAddress("127.0.0.1") }
        let socket = try await AsyncSocket.connect(to: address, loop: clientLoop, deadline: .now + .seconds(5))
        return TestClient(socket: socket)
    }

    func send(_ text: String) async throws {
        try await send(Array(text.utf8))
    }

    func send(_ bytes: [UInt8]) async throws {
        try await socket.write(bytes, deadline: .now + .seconds(5))
    }

    /// Reads one response; `hasBody: false` for answers to HEAD.
    mutating func readResponse(hasBody: Bool = true, timeout: Duration = .seconds(5)) async throws -> WireResponse {
        let deadline = ContinuousClock.now + timeout
        var headEnd: Int?
        while true {
            headEnd = buffer.indices.dropLast(3).first { buffer[$0...].starts(with: [13, 10, 13, 10]) }
            if headEnd != nil { break }
            buffer += try await socket.read(deadline: deadline)
        }
        guard let headEnd else { throw SocketError.closed }
        let head = String(decoding: buffer[..<headEnd], as: UTF8.self)
        buffer.removeFirst(headEnd + 4)
        var lines = head.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        #expect(statusLine.first == "HTTP/1.1")
        var headers = HTTPHeaders()
        for line in lines {
            let parts = line.split(separator: ":", maxSplits: 1)
            headers.add(String(parts[0]), parts.count > 1 ? parts[1].trimmingOWS() : "")
        }
        let status = Int(statusLine[1]) ?? 0
        var body: [UInt8] = []
        if hasBody, let length = headers["Content-Length"].flatMap({ Int($0) }) {
            while buffer.count < length { buffer += try await socket.read(deadline: deadline) }
            body = Array(buffer.prefix(length))
            buffer.removeFirst(length)
        }
        return WireResponse(
            status: status, reason: statusLine.count > 2 ? String(statusLine[2]) : "", headers: headers, body: body)
    }

    /// Everything until the server closes; throws `SocketError.timedOut`
    /// if it does not close in time.
    mutating func readUntilClosed(timeout: Duration = .seconds(5)) async throws -> [UInt8] {
        let deadline = ContinuousClock.now + timeout
        while true {
            do {
                buffer += try await socket.read(deadline: deadline)
            } catch SocketError.disconnected {
                defer { buffer = [] }
                return buffer
            }
        }
    }

    /// Call exactly once: a second close could hit an fd number another
    /// (parallel) test has been given since.
    func close() {
        socket.close()
    }
}

/// Starts a server on 127.0.0.1:0, runs the body, stops the server.
func withServer(
    configure: (inout HTTPServer.Configuration) -> Void = { _ in },
    handler: @escaping HTTPHandler = { request in HTTPResponse(status: 200, body: Array(request.path.utf8)) },
    _ body: (HTTPServer, Int) async throws -> Void
) async throws {
    var configuration = HTTPServer.Configuration(address: try ListenAddress(parsing: "127.0.0.1:0"))
    configure(&configuration)
    let server = HTTPServer(configuration: configuration, logger: quietLogger, handler: handler)
    let port = try await server.start()
    do {
        try await body(server, port)
    } catch {
        await server.stop(gracePeriod: .zero)
        throw error
    }
    await server.stop(gracePeriod: .seconds(2))
}

/// A one-shot signal a handler can wait for.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLock { state in
            state.open = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let isOpen = state.withLock { state in
                if !state.open { state.waiters.append(continuation) }
                return state.open
            }
            if isOpen { continuation.resume() }
        }
    }
}

/// Polls a condition every few milliseconds, for at most the timeout.
func eventually(timeout: Duration = .seconds(3), _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try await condition()
}
