import Dispatch
import Foundation
import Testing

@testable import PostgresClient

extension DatabaseTests {
    @Suite struct PoolTests {
        @Test func runsQueriesAndBodiesOnPooledConnections() async throws {
            let pool = try TestDatabase.pool(size: 2)
            let result = try await pool.query("SELECT \(41) + 1 AS answer")
            #expect(try result[0].int("answer") == 42)
            let (pid, onCooperativePool) = try await pool.withConnection { connection in
                (connection.backendPID, Thread.current.name ?? "")
            }
            #expect(pid > 0)
            #expect(onCooperativePool.hasPrefix("postgres-"))  // the slot's own thread
            await pool.close()
        }

        @Test func fiftyConcurrentQueriesNeverUseMoreThanThePoolSize() async throws {
            let app = TestDatabase.uniqueName("pool_size")
            let pool = try TestDatabase.pool(
                size: 3, acquireTimeout: .seconds(30), applicationName: app)
            let samples = try await withThrowingTaskGroup(of: (pid: Int, backends: Int).self) {
                group in
                for _ in 0..<50 {
                    group.addTask {
                        let row = try await pool.query(
                            """
                            SELECT pg_backend_pid() AS pid, pg_sleep(0.02)::text AS slept,
                                   (SELECT count(*) FROM pg_stat_activity
                                     WHERE application_name = \(app)) AS backends
                            """)[0]
                        return (try row.int("pid"), try row.int("backends"))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(samples.count == 50)
            #expect(Set(samples.map(\.pid)).count == 3)
            #expect(samples.map(\.backends).max()! <= 3)
            await pool.close()
            // close() closed every connection.
            let observer = try TestDatabase.connect()
            try waitUntilSync {
                (try? observer.query(
                    "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = \(app)")[0]
                    .int("n")) == 0
            }
        }

        @Test func waitersAreServedInArrivalOrder() async throws {
            let pool = try TestDatabase.pool(size: 1, acquireTimeout: .seconds(30))
            let order = Locked<[Int]>([])
            let holder = try await HeldSlot.hold(pool)
            var waiters: [Task<Void, any Error>] = []
            for index in 1...6 {
                waiters.append(
                    Task {
                        try await pool.withConnection { _ in order.withLock { $0.append(index) } }
                    })
                try await waitUntil { pool.waitingCount == index }
            }
            try await holder.release()
            for waiter in waiters { try await waiter.value }
            #expect(order.withLock { $0 } == [1, 2, 3, 4, 5, 6])
            await pool.close()
        }

        @Test func acquiringTimesOutInsteadOfHanging() async throws {
            let pool = try TestDatabase.pool(size: 1, acquireTimeout: .milliseconds(200))
            let holder = try await HeldSlot.hold(pool)
            let start = ContinuousClock.now
            let error = await #expect(throws: PostgresError.self) {
                try await pool.query("SELECT 1")
            }
            let waited = ContinuousClock.now - start
            #expect(error?.kind == .poolTimeout)
            #expect(error?.description == "timed out waiting for a PostgreSQL connection")
            #expect(waited >= .milliseconds(150) && waited < .seconds(2))
            #expect(pool.waitingCount == 0)
            try await holder.release()
            // The slot was not lost.
            #expect(try await pool.query("SELECT 1 AS one")[0].int("one") == 1)
            await pool.close()
        }

        @Test func cancellingAWaiterRemovesIt() async throws {
            let pool = try TestDatabase.pool(size: 1, acquireTimeout: .seconds(30))
            let holder = try await HeldSlot.hold(pool)
            let waiter = Task { try await pool.query("SELECT 1") }
            try await waitUntil { pool.waitingCount == 1 }
            let start = ContinuousClock.now
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            #expect(ContinuousClock.now - start < .seconds(1))
            #expect(pool.waitingCount == 0)

            // Already cancelled before asking: fails at once, queues nothing.
            let early = Task {
                withUnsafeCurrentTask { $0?.cancel() }
                return try await pool.query("SELECT 1")
            }
            await #expect(throws: CancellationError.self) { try await early.value }
            #expect(pool.waitingCount == 0)

            try await holder.release()
            #expect(try await pool.query("SELECT 1 AS one")[0].int("one") == 1)
            await pool.close()
        }

        @Test func aDatabaseThatIsDownFailsFastWithConnectionFailed() async throws {
            _ = try TestDatabase.url()
            // Creating the pool does not connect.
            let pool = PostgresPool(
                configuration: PostgresConfiguration(connectionString: TestDatabase.closedPortURL),
                size: 2,
                logger: TestDatabase.logger)
            let start = ContinuousClock.now
            let errors = await withTaskGroup(of: (any Error)?.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        do {
                            _ = try await pool.query("SELECT 1")
                            return nil
                        } catch {
                            return error
                        }
                    }
                }
                return await group.reduce(into: []) { $0.append($1) }
            }
            #expect(ContinuousClock.now - start < .seconds(3))
            #expect(errors.count == 10)
            #expect(errors.allSatisfy { ($0 as? PostgresError)?.kind == .connectionFailed })
            await pool.close()
        }

        @Test func aConnectionKilledFromOutsideIsReplaced() async throws {
            let pool = try TestDatabase.pool(size: 1)
            let first = try await pool.query("SELECT pg_backend_pid() AS pid")[0].int("pid")
            let killer = try TestDatabase.connect()
            let killed = try killer.query(
                "SELECT pg_terminate_backend(\(Int32(first)), 5000) AS done")[0]
            #expect(try killed.bool("done"))
            // The idle check sees the server's goodbye, so the next query already runs on a new
            // connection.
            let second = try await pool.query("SELECT pg_backend_pid() AS pid")[0].int("pid")
            #expect(second != first)
            await pool.close()
        }

        @Test func aConnectionThatBreaksDuringABodyIsDiscarded() async throws {
            let pool = try TestDatabase.pool(size: 1)
            let first = try await pool.query("SELECT pg_backend_pid() AS pid")[0].int("pid")
            let error = await #expect(throws: PostgresError.self) {
                try await pool.query("SELECT pg_terminate_backend(pg_backend_pid())")
            }
            #expect(error?.isConnectionProblem == true)
            let second = try await pool.query("SELECT pg_backend_pid() AS pid")[0].int("pid")
            #expect(second != first)
            await pool.close()
        }

        @Test func blockingQueriesDoNotStallTheCooperativePool() async throws {
            let pool = try TestDatabase.pool(size: 4)
            // Warm one connection; the others open under load below.
            _ = try await pool.query("SELECT 1")
            let start = ContinuousClock.now
            let sleepers = Task {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<4 {
                        group.addTask { _ = try await pool.query("SELECT pg_sleep(1)") }
                    }
                    try await group.waitForAll()
                }
            }
            // While four threads sit in libpq, Swift tasks (more of them than there are cores)
            // still run at once.
            let probeStart = ContinuousClock.now
            try await Task.sleep(for: .milliseconds(200))
            let sums = await withTaskGroup(of: Int.self) { group in
                for index in 0..<16 { group.addTask { (0..<10_000).reduce(index, +) } }
                return await group.reduce(into: [Int]()) { $0.append($1) }
            }
            let probe = ContinuousClock.now - probeStart
            #expect(sums.count == 16)
            #expect(probe < .milliseconds(700), "cooperative pool stalled for \(probe)")
            try await sleepers.value
            // The four sleeps ran side by side.
            #expect(ContinuousClock.now - start < .milliseconds(1900))
            await pool.close()
        }

        @Test func transactionsThroughThePoolCommitAndRollBack() async throws {
            let pool = try TestDatabase.pool(size: 2)
            let table = TestDatabase.uniqueName("pool_tx")
            try await pool.withConnection {
                try $0.executeScript("CREATE TABLE \(table) (id bigint PRIMARY KEY)")
            }
            let insert: @Sendable (Int) -> PostgresQuery = { id in
                PostgresQuery(unsafeSQL: "INSERT INTO \(table) VALUES ($1)", binds: [id])
            }
            let count = PostgresQuery(unsafeSQL: "SELECT count(*) AS n FROM \(table)")

            try await pool.withTransaction(isolation: .serializable) { _ = try $0.query(insert(1)) }
            struct Abort: Error {}
            await #expect(throws: Abort.self) {
                try await pool.withTransaction { connection in
                    _ = try connection.query(insert(2))
                    throw Abort()
                }
            }
            #expect(try await pool.query(count)[0].int("n") == 1)

            // A transaction a body leaves open is rolled back before the connection is reused.
            let pid = try await pool.withConnection { connection in
                _ = try connection.query("BEGIN")
                _ = try connection.query(insert(3))
                return connection.backendPID
            }
            let (samePid, rows) = try await pool.withConnection { connection in
                (connection.backendPID, try connection.query(count)[0].int("n"))
            }
            #expect(samePid == pid)
            #expect(rows == 1)
            try await pool.withConnection { try $0.executeScript("DROP TABLE \(table)") }
            await pool.close()
        }

        @Test func closeFailsWaitersAndLaterCallers() async throws {
            let pool = try TestDatabase.pool(size: 1, acquireTimeout: .seconds(30))
            let holder = try await HeldSlot.hold(pool) { connection in
                try connection.query("SELECT 1 AS one")[0].int("one")
            }
            let waiter = Task { try await pool.query("SELECT 1") }
            try await waitUntil { pool.waitingCount == 1 }
            let closing = Task { await pool.close() }
            let waiterError = await #expect(throws: PostgresError.self) { try await waiter.value }
            #expect(waiterError?.kind == .poolClosed)
            #expect(try await holder.release() == 1)  // the running body finished normally
            await closing.value
            let lateError = await #expect(throws: PostgresError.self) {
                try await pool.query("SELECT 1")
            }
            #expect(lateError?.kind == .poolClosed)
            await pool.close()  // idempotent
        }
    }
}

/// A pool's only slot, held by a body that blocks the slot's thread (not the
/// cooperative pool) until `release()`, so tests can queue waiters behind it.
private struct HeldSlot<Value: Sendable> {
    private let gate: DispatchSemaphore
    private let task: Task<Value, any Error>

    /// Returns once the body holds the slot; `then` runs when it is released.
    static func hold(
        _ pool: PostgresPool,
        then finish: @escaping @Sendable (PostgresConnection) throws -> Value
    ) async throws -> HeldSlot {
        let gate = DispatchSemaphore(value: 0)
        let holding = Locked(false)
        let task = Task {
            try await pool.withConnection { connection in
                holding.withLock { $0 = true }
                gate.wait()
                return try finish(connection)
            }
        }
        try await waitUntil { holding.withLock { $0 } }
        return HeldSlot(gate: gate, task: task)
    }

    /// Lets the body finish and returns what it returned.
    @discardableResult
    func release() async throws -> Value {
        gate.signal()
        return try await task.value
    }
}

extension HeldSlot where Value == Void {
    static func hold(_ pool: PostgresPool) async throws -> HeldSlot {
        try await hold(pool) { _ in }
    }
}
