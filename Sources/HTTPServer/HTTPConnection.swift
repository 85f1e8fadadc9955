import Glibc
import Logging

/// One accepted connection, run as a child task of the server: reads
/// requests in order (pipelined ones included), calls the handler, writes
/// each response before reading on, until either side closes.
struct HTTPConnection: Sendable {
    let socket: AsyncSocket
    let id: UInt64
    let remoteAddress: String?
    let configuration: HTTPServer.Configuration
    let handler: HTTPHandler
    let registry: ConnectionRegistry
    let logger: Logger

    /// The handler asked to drop the connection unanswered.
    private struct AbortedByHandler: Error {}

    private static let continueResponse = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Where the connection is between two requests; it picks the deadline.
    private enum Phase {
        case idle
        case head
        case body
    }

    func run() async {
        defer {
            registry.remove(id)
            socket.close()
        }
        var parser = HTTPRequestParser(limits: configuration.parserLimits)
        // The first request's head is due headerReadTimeout after accept, so
        // a client that connects and sends nothing cannot hold a slot.
        var requestStart: ContinuousClock.Instant? = .now
        var reader = Reader(socket: socket)
        do {
            while let request = try await readRequest(&parser, from: &reader, requestStart: &requestStart) {
                let keepAlive = try await respond(to: request)
                guard keepAlive else {
                    await lingeringClose()
                    return
                }
                requestStart = nil
            }
        } catch let error as HTTPParseError {
            logger.debug("refusing request", metadata: ["http.status": "\(error.status)", "http.error": "\(error.detail)"])
            await sendError(error)
            await lingeringClose()
        } catch {
            logger.debug("connection failed", metadata: ["http.error": "\(error)"])
        }
    }

    /// Calls the handler and writes its response; returns whether the
    /// connection stays open for another request.
    private func respond(to request: HTTPRequest) async throws -> Bool {
        var request = request
        request.remoteAddress = remoteAddress
        let response = await handler(request)
        if response.abortsConnection { throw AbortedByHandler() }
        let keepAlive = Self.wantsKeepAlive(request) && !response.requestsClose
            && !registry.isStopping && !Task.isCancelled
        let connection: String? = keepAlive ? (request.version == "HTTP/1.0" ? "keep-alive" : nil) : "close"
        let bytes = response.serialized(isHEAD: request.method == "HEAD", connection: connection)
        try await socket.write(bytes, deadline: .now + configuration.writeTimeout)
        logger.trace("request served", metadata: [
            "http.method": "\(request.method)", "http.path": "\(request.path)", "http.status": "\(response.status)",
        ])
        return keepAlive
    }

    /// HTTP/1.1 keeps the connection unless told `close`; HTTP/1.0 only when
    /// asked for `keep-alive` (RFC 9112 §9.3).
    static func wantsKeepAlive(_ request: HTTPRequest) -> Bool {
        let tokens = request.headers.values("Connection")
        if request.version == "HTTP/1.0" { return tokens.contains { $0.hasToken("keep-alive") } }
        return !tokens.contains { $0.hasToken("close") }
    }

    /// The next complete request, or nil when the connection should close
    /// quietly (idle timeout, the client left between requests, or stop).
    /// Throws `HTTPParseError` for anything to answer with an error status.
    private func readRequest(
        _ parser: inout HTTPRequestParser, from reader: inout Reader, requestStart: inout ContinuousClock.Instant?
    ) async throws -> HTTPRequest? {
        var bodyDeadline: ContinuousClock.Instant?
        while true {
            if let request = try parser.nextRequest() { return request }
            if parser.needsContinue {
                try await socket.write(Self.continueResponse, deadline: .now + configuration.writeTimeout)
                parser.markContinueSent()
            }

            let phase: Phase
            let deadline: ContinuousClock.Instant
            if parser.isReadingBody {
                phase = .body
                deadline = bodyDeadline ?? .now + configuration.bodyReadTimeout
                bodyDeadline = deadline
            } else if let start = requestStart ?? (parser.hasBufferedBytes ? .now : nil) {
                phase = .head
                deadline = start + configuration.headerReadTimeout
                requestStart = start
            } else {
                guard registry.markIdle(id) else { return nil }
                phase = .idle
                deadline = .now + configuration.idleTimeout
            }

            let bytes: [UInt8]
            do {
                bytes = try await reader.read(deadline: deadline)
            } catch SocketError.timedOut {
                switch phase {
                case .idle: return nil
                case .head: throw HTTPParseError(status: 408, detail: "request head not received within \(configuration.headerReadTimeout)")
                case .body:
                    throw HTTPParseError(status: 408, detail: "request body not received within \(configuration.bodyReadTimeout)",
                                         head: parser.headInProgress)
                }
            } catch SocketError.disconnected where phase == .idle {
                return nil
            }
            if phase == .idle {
                registry.markBusy(id)
                requestStart = .now
            }
            parser.append(bytes)
        }
    }

    /// Reads the connection, remembering whether the socket was left empty:
    /// a request usually comes in one read shorter than asked for, and then
    /// the next read waits for readiness instead of first calling `recv` for
    /// an EAGAIN (one system call less per request).
    private struct Reader {
        let socket: AsyncSocket
        var drained = false

        mutating func read(deadline: ContinuousClock.Instant) async throws -> [UInt8] {
            let maxBytes = 16 * 1024
            let bytes = try await socket.read(maxBytes: maxBytes, deadline: deadline, waitingFirst: drained)
            drained = bytes.count < maxBytes
            return bytes
        }
    }

    private func sendError(_ refusal: HTTPParseError, retryAfterSeconds: Int? = nil) async {
        var response = configuration.errorResponder(refusal)
        if let retryAfterSeconds { response.headers.set("Retry-After", String(retryAfterSeconds)) }
        let bytes = response.serialized(isHEAD: false, connection: "close")
        do {
            try await socket.write(bytes, deadline: .now + configuration.writeTimeout)
        } catch {
            logger.debug("could not send error response", metadata: ["http.status": "\(refusal.status)", "http.error": "\(error)"])
        }
    }

    /// Closing with unread input makes the kernel send a reset, which can
    /// destroy a response the client has not read yet. So: stop writing
    /// (the client sees end-of-stream after the response), then discard what
    /// it still sends until it closes or `lingerTimeout` passes.
    private func lingeringClose() async {
        socket.socket.shutdown(Int(SHUT_WR))
        let deadline = ContinuousClock.now + configuration.lingerTimeout
        while (try? await socket.read(deadline: deadline)) != nil {}
    }

    /// Answers a connection over a cap with 503 (`Retry-After: 1`: connections
    /// free up as others finish) and closes it.
    static func reject(
        _ socket: AsyncSocket, reason: String, configuration: HTTPServer.Configuration, registry: ConnectionRegistry,
        logger: Logger
    ) async {
        defer {
            socket.close()
            registry.finishRejecting()
        }
        let connection = HTTPConnection(
            socket: socket, id: 0, remoteAddress: nil, configuration: configuration,
            handler: { _ in HTTPResponse(status: 503) }, registry: registry, logger: logger)
        await connection.sendError(HTTPParseError(status: 503, detail: reason), retryAfterSeconds: 1)
        await connection.lingeringClose()
    }
}
