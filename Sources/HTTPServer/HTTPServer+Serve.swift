import Glibc
import Synchronization
import Logging

extension HTTPServer {
    /// What the accept loop needs, gathered so it can run off the actor.
    struct ServeContext: Sendable {
        let listener: AsyncSocket
        /// Connections go to these in turn.
        let loops: [EventLoop]
        let registry: ConnectionRegistry
        let configuration: Configuration
        let handler: HTTPHandler
        let logger: Logger

        /// Accepts until stopped, one child task per connection; returns
        /// when the listener is closed and every connection has finished.
        func serve() async {
            await withDiscardingTaskGroup { group in
                var warnings = RateLimitedWarning()
                let spare = SpareDescriptor()
                defer { spare.release() }
                while let (client, peer) = await acceptNext(&warnings, spare: spare) {
                    switch registry.admit(client.socket, client: peer?.host) {
                    case let .admitted(id):
                        var connectionLogger = logger
                        connectionLogger[metadataKey: "http.remote"] = "\(peer?.description ?? "unknown")"
                        connectionLogger[metadataKey: "http.connection_id"] = "\(id)"
                        let loop = loops[Int(id % UInt64(loops.count))]
                        let connection = HTTPConnection(
                            socket: AsyncSocket(socket: client.socket, loop: loop), id: id, remoteAddress: peer?.description, configuration: configuration,
                            handler: handler, registry: registry, logger: connectionLogger)
                        // On the loop's thread: readiness resumes the task where it is, with no hop.
                        group.addTask(executorPreference: loop) { await connection.run() }
                    case .rejected(let reason):
                        logger.debug("connection limit reached", metadata: [
                            "http.remote": "\(peer?.description ?? "unknown")", "http.error": "\(reason)",
                        ])
                        group.addTask { [configuration, registry, logger] in
                            await HTTPConnection.reject(client, reason: reason, configuration: configuration, registry: registry, logger: logger)
                        }
                    case .dropped:
                        client.close()
                    }
                }
                registry.releaseListener()
                listener.close()
            }
        }

        /// The next connection, or nil once the listener is shut down or the
        /// task cancelled. Transient failures (fd exhaustion, aborted
        /// handshakes) are logged and retried after a pause instead of spinning.
        private func acceptNext(_ warnings: inout RateLimitedWarning, spare: SpareDescriptor) async -> (AsyncSocket, SocketAddress?)? {
            while !registry.isStopping {
                do {
                    return try await listener.accept()
                } catch let SocketError.failed(operation, code) where ![EBADF, EINVAL, ENOTSOCK].contains(code) {
                    if code == EMFILE || code == ENFILE { spare.refuseOne(on: listener.socket) }
                    // Out of descriptors (EMFILE, ENFILE) repeats until connections close:
                    // say so once every 10 s, with how many times it happened meanwhile.
                    if let suppressed = warnings.due() {
                        logger.warning("accept failed; retrying", metadata: [
                            "http.error": "\(SocketError.failed(operation: operation, errno: code))",
                            "http.accept_failures_since_last_warning": "\(suppressed)",
                        ])
                    }
                    try? await Task.sleep(for: .milliseconds(50))
                } catch {
                    if !registry.isStopping && !Task.isCancelled {
                        logger.error("accept failed; no longer accepting", metadata: ["http.error": "\(error)"])
                    }
                    return nil
                }
            }
            return nil
        }
    }
}

/// A warning that may repeat many times a second: logged at most once per `interval`.
struct RateLimitedWarning {
    var interval: Duration = .seconds(10)
    private var lastLogged: ContinuousClock.Instant?
    private var suppressed = 0

    /// Non-nil when a warning is due now: how many were held back since the last one.
    mutating func due(now: ContinuousClock.Instant = .now) -> Int? {
        if let lastLogged, now - lastLogged < interval {
            suppressed += 1
            return nil
        }
        defer { (lastLogged, suppressed) = (now, 0) }
        return suppressed
    }
}

/// One descriptor held in reserve: out of descriptors, the server gives it up
/// to accept the connection waiting at the head of the backlog and close it at
/// once, so that client learns now instead of timing out, and the listener
/// stops waking the loop for it; then takes the descriptor back.
final class SpareDescriptor: Sendable {
    private let fd = Mutex<Int32>(-1)

    init() {
        fd.withLock { $0 = open("/dev/null", O_RDONLY | O_CLOEXEC) }
    }

    func refuseOne(on listener: Socket) {
        fd.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            if let (client, _) = try? listener.accept() { client.close() }
            fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        }
    }

    /// Whether the spare descriptor is open (for tests).
    var isHeld: Bool { fd.withLock { $0 >= 0 } }

    func release() {
        fd.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }
}
