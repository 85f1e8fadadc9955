import Foundation

/// A dedicated OS thread that owns at most one `PostgresConnection` and runs jobs on it one after
/// another.
///
/// libpq blocks the calling thread for the whole round trip (and up to `connect_timeout` to
/// connect). On Swift's cooperative pool, which has one thread per core, a few slow queries would
/// stall every task in the process, so all libpq calls of a pool happen on threads like this one.
/// The connection is a local variable of the thread's loop: it cannot be reached from any other
/// thread.
final class ConnectionThread: @unchecked Sendable {
    // @unchecked Sendable: `jobs`, `started`, `stopRequested`, `stopped` and `stopWaiters` are
    // only touched while holding `condition`; the connection lives in `run()` and never leaves
    // this thread.
    typealias Job = @Sendable (inout PostgresConnection?) -> Void

    private let condition = NSCondition()
    private var jobs: [Job] = []
    private var started = false
    private var stopRequested = false
    private var stopped = false
    private var stopWaiters: [CheckedContinuation<Void, Never>] = []

    init(name: String) {
        let thread = Thread { [self] in
            // On Linux, Foundation applies a thread name only when set from the thread itself, and
            // only once start() has returned (it then knows its pthread). Until then the thread
            // bears the name of the one that created it, often a cooperative pool thread:
            // misleading in `top -H` or a debugger.
            waitUntilStarted()
            Thread.current.name = name
            run()
        }
        thread.start()
        condition.lock()
        started = true
        condition.broadcast()
        condition.unlock()
    }

    /// Queues `job` to run on the thread with its connection (nil until a job opens one). False
    /// once stopping.
    func submit(_ job: @escaping Job) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        guard !stopRequested else { return false }
        jobs.append(job)
        condition.broadcast()
        return true
    }

    /// Lets queued jobs finish, then closes the connection and ends the thread. Idempotent.
    func stop() {
        condition.lock()
        stopRequested = true
        condition.broadcast()
        condition.unlock()
    }

    func waitUntilStopped() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            condition.lock()
            if stopped {
                condition.unlock()
                continuation.resume()
            } else {
                stopWaiters.append(continuation)
                condition.unlock()
            }
        }
    }

    private func run() {
        var connection: PostgresConnection?
        while let job = nextJob() {
            job(&connection)
        }
        connection?.close()
        connection = nil

        condition.lock()
        stopped = true
        let waiters = stopWaiters
        stopWaiters = []
        condition.unlock()
        waiters.forEach { $0.resume() }
    }

    private func waitUntilStarted() {
        condition.lock()
        while !started { condition.wait() }
        condition.unlock()
    }

    /// Blocks until there is a job; nil when asked to stop and nothing is left to do.
    private func nextJob() -> Job? {
        condition.lock()
        defer { condition.unlock() }
        while jobs.isEmpty && !stopRequested {
            condition.wait()
        }
        return jobs.isEmpty ? nil : jobs.removeFirst()
    }
}
