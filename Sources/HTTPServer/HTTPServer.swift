import Glibc
import Logging

/// An HTTP/1.1 server on BSD sockets and epoll.
///
/// Each connection is a child task of one discarding task group, bound to one
/// of the `EventLoop`s in turn: the loop's thread waits on its sockets and also
/// runs its connections' tasks (the handler included), so a request that
/// arrives is served on the thread that saw it, with no hop between threads.
public actor HTTPServer {
    public enum LifecycleError: Error, Equatable {
        /// `start()` was called on a server that already started (or stopped).
        case alreadyStarted
    }

    private struct Running: Sendable {
        let loops: [EventLoop]
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
        var loops: [EventLoop] = []
        do {
            port = try listener.localAddress().port
            for _ in 0..<max(1, configuration.eventLoops) { loops.append(try EventLoop()) }
        } catch {
            for loop in loops { loop.shutdown() }
            listener.close()
            throw error
        }
        let registry = ConnectionRegistry(maxConnections: configuration.maxConnections, maxPerClient: configuration.maxConnectionsPerClient, listener: listener)
        let context = ServeContext(
            listener: AsyncSocket(socket: listener, loop: loops[0]), loops: loops, registry: registry,
            configuration: configuration, handler: handler, logger: logger)
        // Detached: the accept loop and connections must not run on this actor.
        let serveTask = Task.detached { [loops] in
            await context.serve()
            for loop in loops { loop.shutdown() }
        }
        phase = .running(Running(loops: loops, registry: registry, serveTask: serveTask))
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
