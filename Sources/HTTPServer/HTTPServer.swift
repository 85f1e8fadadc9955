import Glibc
import Logging

/// An HTTP/1.1 server on BSD sockets and epoll.
///
/// Each connection is a child task of one discarding task group; the handler
/// runs in that task on the cooperative pool, while socket waits suspend on
/// the `EventLoop`'s thread and never block a cooperative thread.
public actor HTTPServer {
    public enum LifecycleError: Error, Equatable {
        /// `start()` was called on a server that already started (or stopped).
        case alreadyStarted
    }

    private struct Running: Sendable {
        let loop: EventLoop
        let registry: ConnectionRegistry
        let serveTask: Task<Void, Never>
    }

    private enum Phase {
        case idle
        case running(Running)
        case stopping
        case stopped
    }

    public nonisolated let configuration: Configuration
    private let logger: Logger
    private let handler: HTTPHandler
    private var phase = Phase.idle
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    /// The bound port while accepting connections, nil before `start()` and once stopping.
    public private(set) var listeningPort: Int?

    public init(configuration: Configuration, logger: Logger, handler: @escaping HTTPHandler) {
        self.configuration = configuration
        self.logger = logger
        self.handler = handler
    }

    /// Binds and listens, starts accepting in the background, and returns
    /// the bound port (the real one when configured with port 0).
    @discardableResult
    public func start() async throws -> Int {
        guard case .idle = phase else { throw LifecycleError.alreadyStarted }
        let address = try configuration.address.resolve()
        DescriptorLimit.ensure(connections: configuration.maxConnections, logger: logger)
        let listener = try Socket.listening(on: address, backlog: configuration.backlog)
        let port: Int
        let loop: EventLoop
        do {
            port = try listener.localAddress().port
            loop = try EventLoop()
        } catch {
            listener.close()
            throw error
        }
        let registry = ConnectionRegistry(maxConnections: configuration.maxConnections, maxPerClient: configuration.maxConnectionsPerClient, listener: listener)
        let context = ServeContext(
            listener: AsyncSocket(socket: listener, loop: loop), registry: registry,
            configuration: configuration, handler: handler, logger: logger)
        // Detached: the accept loop and connections must not run on this actor.
        let serveTask = Task.detached {
            await context.serve()
            loop.shutdown()
        }
        phase = .running(Running(loop: loop, registry: registry, serveTask: serveTask))
        listeningPort = port
        logger.info("HTTP server listening", metadata: ["http.address": "\(address.host)", "http.port": "\(port)"])
        return port
    }

    /// Starts, then returns once the server has stopped. Cancelling the
    /// calling task stops the server without a grace period.
    public func run() async throws {
        try await start()
        await withTaskCancellationHandler {
            await waitUntilStopped()
        } onCancel: {
            Task { await self.stop(gracePeriod: .zero) }
        }
    }

    /// Stops accepting at once (new connections are refused), closes idle
    /// keep-alive connections, lets requests in flight finish and answer with
    /// `Connection: close`, and cancels what is still running after the grace
    /// period. Returns when every connection is closed.
    public func stop(gracePeriod: Duration = .seconds(10)) async {
        switch phase {
        case .idle:
            phase = .stopped
        case .stopped:
            return
        case .stopping:
            await waitUntilStopped()
        case let .running(running):
            phase = .stopping
            listeningPort = nil
            logger.info("HTTP server stopping", metadata: ["http.connections": "\(running.registry.count)"])
            running.registry.beginStopping()
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await running.serveTask.value }
                group.addTask {
                    try? await Task.sleep(for: gracePeriod)
                    if !Task.isCancelled { running.serveTask.cancel() }
                }
                await group.next()
                group.cancelAll()
            }
            phase = .stopped
            logger.info("HTTP server stopped")
            let waiters = stopWaiters
            stopWaiters = []
            for waiter in waiters { waiter.resume() }
        }
    }

    private func waitUntilStopped() async {
        if case .stopped = phase { return }
        await withCheckedContinuation { stopWaiters.append($0) }
    }
}
