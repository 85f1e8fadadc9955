import Logging

/// A fixed number of PostgreSQL connections, each on a thread of its own, shared by async callers.
///
/// - Connections open lazily, on first use of their slot, so a pool can be created while the
///   database is down.
/// - A connection found broken (closed by the server, a connection-class error, a transaction it
///   cannot leave) is   discarded; its slot opens a new one on next use, so the pool heals by
///   itself after a PostgreSQL restart.
/// - Waiters are served first-come, first-served; waiting is bounded by `acquireTimeout`
///   (`.poolTimeout`) and ends   on task cancellation (`CancellationError`). When the database is
///   down, callers get `.connectionFailed`   after at most the connect timeout; nothing waits
///   forever.
/// - libpq blocks, so bodies run on the slot's own thread, never on Swift's cooperative thread
///   pool.
public final class PostgresPool: Sendable {
    public let size: Int
    public let acquireTimeout: Duration
    private let configuration: PostgresConfiguration
    private let logger: Logger
    private let threads: [ConnectionThread]
    private let state: Locked<State>

    private struct State: Sendable {
        var machine: PoolStateMachine
        var nextWaiterID: UInt64 = 0
        /// Exactly the waiters `machine` has queued, with what is needed to wake them.
        var waiting: [UInt64: Waiter] = [:]
    }

    private struct Waiter: Sendable {
        let continuation: CheckedContinuation<Int, any Error>
        var timer: Task<Void, Never>?
    }

    public init(
        configuration: PostgresConfiguration, size: Int = 4, acquireTimeout: Duration = .seconds(5),
        logger: Logger
    ) {
        precondition(size > 0, "a pool needs at least one connection")
        self.size = size
        self.acquireTimeout = acquireTimeout
        self.configuration = configuration
        self.logger = logger
        self.threads = (0..<size).map { ConnectionThread(name: "postgres-\($0)") }
        self.state = Locked(State(machine: PoolStateMachine(size: size)))
    }

    deinit {
        // Without close(), still let the threads end (each closes its connection on the way out).
        threads.forEach { $0.stop() }
    }

    /// Runs `body` with a connection, synchronously on that connection's thread, and returns its
    /// result. A transaction `body` leaves open is rolled back before the connection is reused.
    public func withConnection<T: Sendable>(
        file: String = #fileID, line: Int = #line,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        let slot = try await acquire(file: file, line: line)
        return try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<T, any Error>) in
            let submitted = threads[slot].submit { connection in
                // From here on: the slot's own thread.
                let result = self.run(
                    body, slot: slot, connection: &connection, file: file, line: line)
                self.release(slot)
                continuation.resume(with: result)
            }
            // Cannot happen while the slot is leased; kept so that a bug cannot hang a caller.
            if !submitted {
                release(slot)
                continuation.resume(
                    throwing: PostgresError(
                        kind: .poolClosed, message: "the pool is closed", file: file, line: line))
            }
        }
    }

    /// Runs `body` in a transaction: BEGIN (at `isolation`) ... COMMIT, ROLLBACK if `body` throws.
    /// If COMMIT fails its error is thrown. See `PostgresConnection.withTransaction`.
    public func withTransaction<T: Sendable>(
        isolation: PostgresTransactionIsolation = .readCommitted, file: String = #fileID,
        line: Int = #line,
        _ body: @escaping @Sendable (PostgresConnection) throws -> T
    ) async throws -> T {
        try await withConnection(file: file, line: line) { connection in
            try connection.withTransaction(isolation: isolation, file: file, line: line, body)
        }
    }

    /// Runs one statement on any connection.
    public func query(
        _ query: PostgresQuery, file: String = #fileID, line: Int = #line
    ) async throws -> PostgresResult {
        try await withConnection(file: file, line: line) { connection in
            try connection.query(query, file: file, line: line)
        }
    }

    /// Fails waiting and future callers with `.poolClosed`, lets running bodies finish, then closes
    /// every connection and ends the threads. Returns when all that is done.
    public func close() async {
        let (waiters, slots) = state.withLock { state in
            let action = state.machine.close()
            return (
                action.failWaiters.compactMap { state.waiting.removeValue(forKey: $0) },
                action.shutDownSlots
            )
        }
        for waiter in waiters {
            waiter.timer?.cancel()
            waiter.continuation.resume(
                throwing: PostgresError(kind: .poolClosed, message: "the pool was closed"))
        }
        slots.forEach { threads[$0].stop() }
        for thread in threads {
            await thread.waitUntilStopped()
        }
        logger.debug("PostgreSQL pool closed")
    }

    /// Callers queued for a connection (for tests and metrics).
    var waitingCount: Int {
        state.withLock { $0.machine.waiters.count }
    }

    // MARK: - Leasing

    private func acquire(file: String, line: Int) async throws -> Int {
        try Task.checkCancellation()
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation {
                (continuation: CheckedContinuation<Int, any Error>) in
                let action = state.withLock { state in
                    let action = state.machine.acquire(id)
                    if action == .wait { state.waiting[id] = Waiter(continuation: continuation) }
                    return action
                }
                switch action {
                case .lease(let slot):
                    continuation.resume(returning: slot)
                case .fail:
                    continuation.resume(
                        throwing: PostgresError(
                            kind: .poolClosed, message: "the pool is closed", file: file, line: line
                        ))
                case .wait:
                    startTimer(for: id, file: file, line: line)
                    // The cancellation handler may have run before the waiter was queued, and found
                    // nothing.
                    if Task.isCancelled { giveUp(id, timedOut: false, file: file, line: line) }
                }
            }
        } onCancel: {
            giveUp(id, timedOut: false, file: file, line: line)
        }
    }

    private func startTimer(for id: UInt64, file: String, line: Int) {
        let timeout = acquireTimeout
        let timer = Task { [weak self] in
            do {
                try await Task.sleep(for: timeout)
            } catch {
                return  // cancelled: the waiter was served or gave up
            }
            self?.giveUp(id, timedOut: true, file: file, line: line)
        }
        let stillWaiting = state.withLock { state in
            guard state.waiting[id] != nil else { return false }
            state.waiting[id]?.timer = timer
            return true
        }
        if !stillWaiting { timer.cancel() }
    }

    /// A waiter stops waiting, timed out or cancelled. Nothing happens if it was served (or failed)
    /// already.
    private func giveUp(_ id: UInt64, timedOut: Bool, file: String, line: Int) {
        let waiter: Waiter? = state.withLock { state in
            guard state.machine.removeWaiter(id) else { return nil }
            return state.waiting.removeValue(forKey: id)
        }
        guard let waiter else { return }
        waiter.timer?.cancel()
        if timedOut {
            logger.warning(
                "timed out waiting for a PostgreSQL connection",
                metadata: [
                    "db.pool.size": "\(size)", "db.pool.acquire_timeout": "\(acquireTimeout)",
                ])
            waiter.continuation.resume(
                throwing: PostgresError(
                    kind: .poolTimeout,
                    message: "no connection became free within \(acquireTimeout)",
                    file: file, line: line))
        } else {
            waiter.continuation.resume(throwing: CancellationError())
        }
    }

    private func release(_ slot: Int) {
        let (action, waiter) = state.withLock {
            state -> (PoolStateMachine.ReleaseAction, Waiter?) in
            let action = state.machine.release(slot)
            guard case .handOver(_, let id) = action else { return (action, nil) }
            return (action, state.waiting.removeValue(forKey: id))
        }
        switch action {
        case .handOver(let slot, _):
            waiter?.timer?.cancel()
            waiter?.continuation.resume(returning: slot)
        case .keepIdle:
            break
        case .shutDown(let slot):
            threads[slot].stop()
        }
    }

    // MARK: - On the slot's thread

    /// Opens the slot's connection if needed, runs `body`, and drops the connection if it ended up
    /// broken.
    private func run<T>(
        _ body: (PostgresConnection) throws -> T, slot: Int, connection: inout PostgresConnection?,
        file: String, line: Int
    ) -> Result<T, any Error> {
        var logger = self.logger
        logger[metadataKey: "db.pool.slot"] = "\(slot)"

        if let existing = connection, !existing.isUsableWhenIdle() {
            logger.notice(
                "discarding a PostgreSQL connection the server closed",
                metadata: ["db.backend_pid": "\(existing.backendPID)"])
            existing.close()
            connection = nil
        }
        let current: PostgresConnection
        if let existing = connection {
            current = existing
        } else {
            do {
                current = try PostgresConnection(
                    configuration: configuration, logger: logger, file: file, line: line)
            } catch {
                logger.warning(
                    "could not open a PostgreSQL connection",
                    metadata: (error as? PostgresError)?.logMetadata)
                return .failure(error)
            }
            connection = current
        }

        let result = Result { try body(current) }

        var broken = false
        if case .failure(let error as PostgresError) = result, error.isConnectionProblem {
            broken = true
        }
        if broken || !current.prepareForReuse() {
            var metadata: Logger.Metadata = ["db.backend_pid": "\(current.backendPID)"]
            if case .failure(let error as PostgresError) = result {
                metadata.merge(error.summaryMetadata) { $1 }
            }
            logger.notice("discarding a broken PostgreSQL connection", metadata: metadata)
            current.close()
            connection = nil
        }
        return result
    }
}
