import CEpoll
import Foundation
import Glibc
import Synchronization

/// Turns epoll readiness into resumed continuations.
///
/// `epoll_wait` blocks, so it runs on a thread of its own, never on the Swift
/// cooperative pool. A task that finds its socket not ready registers a
/// continuation here and suspends; the loop thread resumes it when the fd is
/// ready, when its deadline passes, when the task is cancelled, when the fd
/// is deregistered or when the loop shuts down — whichever comes first, and
/// exactly once, because every path removes the waiter from `State` under the
/// lock before resuming it.
///
/// An fd is added to epoll once, edge-triggered (EPOLLET), when it is first
/// waited on, and removed by `deregister`: a wait costs no system call, and an
/// fd nobody waits on cannot make the loop spin. An edge that comes while nobody
/// waits is remembered (`Registration.readable`/`writable`), so the next wait
/// returns at once and the caller retries its call. EPOLLOUT is asked for only
/// while a writer waits (a socket with room would otherwise report every ACK).
/// Each registration carries a generation so that an event queued for a closed
/// fd is not delivered to a new socket reusing its number.
///
/// The loop is also a `TaskExecutor`: the server runs each connection's task
/// with a preference for it, so a socket that becomes ready resumes its task on
/// this very thread, after the epoll batch, with no hop to the cooperative pool
/// and no thread to wake. Work that blocks a thread never belongs here (the
/// PostgreSQL client has threads of its own); once the loop has stopped, jobs
/// go to the global concurrent executor.
public final class EventLoop: TaskExecutor, Sendable {
    public enum Interest: Sendable {
        case readable
        case writable
    }

    private let epoll: Int32
    private let wakeFD: Int32
    private let state: Mutex<State>
    private static let wakeToken = UInt64.max
    private static let readMask = cepoll_in() | cepoll_rdhup()
    private static let writeMask = cepoll_out()
    private static let failureMask = cepoll_err() | cepoll_hup()
    private static let interestMasks: [(Interest, UInt32)] = [(.readable, readMask), (.writable, writeMask)]

    /// Starts the loop thread; call `shutdown()` to stop it.
    public init() throws {
        let epoll = cepoll_create()
        guard epoll >= 0 else { throw SocketError.makeFailed("epoll_create") }
        let wakeFD = ceventfd_create()
        guard wakeFD >= 0 else {
            let error = SocketError.makeFailed("eventfd")
            Glibc.close(epoll)
            throw error
        }
        guard cepoll_ctl(epoll, cepoll_ctl_add(), wakeFD, cepoll_in(), Self.wakeToken) == 0 else {
            let error = SocketError.makeFailed("epoll_ctl")
            Glibc.close(epoll)
            Glibc.close(wakeFD)
            throw error
        }
        self.epoll = epoll
        self.wakeFD = wakeFD
        self.state = Mutex(State())
        let thread = Thread { [self] in self.run() }
        thread.name = "HTTPServer.EventLoop"
        thread.start()
    }

    /// Suspends until the fd is ready for `interest`. Throws
    /// `SocketError.timedOut` at the deadline, `CancellationError` when the
    /// task is cancelled, `SocketError.closed` when the fd is deregistered or
    /// the loop shuts down. Readiness is a hint: the caller retries its call.
    public func wait(for interest: Interest, on fd: Int32, deadline: ContinuousClock.Instant? = nil) async throws {
        let id = state.withLock { $0.makeID() }
        try await withTaskCancellationHandler {
            // Unsafe, not checked: every path resumes a waiter only after taking it
            // out of `State` under the lock, so each is resumed exactly once (and
            // the checked kind costs an allocation per wait, on every request).
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<Void, any Error>) in
                let waiter = Waiter(fd: fd, interest: interest, deadline: deadline, continuation: continuation)
                let registered = state.withLock { state -> Registered in
                    // Checked under the lock: a cancellation handler that ran
                    // before this point found nothing to resume, so we must.
                    if Task.isCancelled { return .failed(CancellationError()) }
                    return register(id: id, waiter: waiter, in: &state)
                }
                switch registered {
                case .waiting: break
                case .ready: continuation.resume()
                case .failed(let error): continuation.resume(throwing: error)
                }
            }
        } onCancel: {
            finish(id, with: CancellationError())
        }
    }

    /// Forgets the fd before it is closed; anyone still waiting on it gets
    /// `SocketError.closed`. Required: an fd closed without it keeps its entry
    /// here while the kernel forgets it, so a new socket that reuses the number
    /// would never be reported (`AsyncSocket.close()` does both, in order).
    public func deregister(_ fd: Int32) {
        let orphans = state.withLock { state -> [Waiter] in
            guard let registration = state.registrations.removeValue(forKey: fd) else { return [] }
            if !state.isShutDown { _ = cepoll_ctl(epoll, cepoll_ctl_del(), fd, 0, 0) }
            return [registration.reader, registration.writer].compactMap { $0.flatMap { state.waiters.removeValue(forKey: $0) } }
        }
        for waiter in orphans { waiter.continuation.resume(throwing: SocketError.closed) }
    }

    /// Stops the loop thread; every waiter gets `SocketError.closed`, and
    /// later waits fail at once. Idempotent.
    public func shutdown() {
        state.withLock { state in
            guard !state.isShutDown else { return }
            state.isShutDown = true
            signal()
        }
    }

    // MARK: - Executor

    public func enqueue(_ job: consuming ExecutorJob) {
        let unownedJob = UnownedJob(job)
        let accepted = state.withLock { state -> Bool in
            guard !state.isShutDown else { return false }
            state.jobs.append(unownedJob)
            // Awake means the loop thread will look at the queue before it sleeps again.
            if case .awake = state.sleep {} else {
                state.sleep = .awake
                signal()
            }
            return true
        }
        if !accepted { globalConcurrentExecutor.enqueue(unownedJob) }
    }

    /// Runs the jobs queued so far (not those they queue: the loop polls first).
    private func runJobs() {
        let jobs = state.withLock { state -> [UnownedJob] in
            defer { state.jobs.removeAll(keepingCapacity: true) }
            return state.jobs
        }
        let executor = asUnownedTaskExecutor()
        for job in jobs { job.runSynchronously(on: executor) }
    }

    // MARK: - Registration (always under the lock)

    private enum Registered {
        case waiting
        /// An edge came while nobody waited: the caller retries its call now.
        case ready
        case failed(any Error)
    }

    private func register(id: UInt64, waiter: Waiter, in state: inout State) -> Registered {
        if state.isShutDown { return .failed(SocketError.closed) }
        if let deadline = waiter.deadline, deadline <= .now { return .failed(SocketError.timedOut) }

        let fd = waiter.fd
        let isNew = state.registrations[fd] == nil
        var registration = state.registrations[fd] ?? Registration(generation: state.makeGeneration())
        guard registration[waiting: waiter.interest] == nil else {
            let doing = waiter.interest == .readable ? "reading" : "writing"
            return .failed(SocketError.failed(operation: "wait (already \(doing))", errno: EBUSY))
        }
        if registration[pending: waiter.interest] {
            registration[pending: waiter.interest] = false
            state.registrations[fd] = registration
            return .ready
        }
        registration[waiting: waiter.interest] = id
        // Added once; changed only when a writer starts waiting (EPOLLOUT on).
        if isNew || waiter.interest == .writable {
            guard control(fd, registration, isNew: isNew) else { return .failed(SocketError.makeFailed("epoll_ctl")) }
        }
        state.registrations[fd] = registration
        state.waiters[id] = waiter

        // The loop sleeps until its earliest deadline; wake it if this one is earlier.
        if let deadline = waiter.deadline {
            switch state.sleep {
            case .awake: break
            case .indefinitely: signal()
            case let .until(wake) where deadline < wake: signal()
            case .until: break
            }
        }
        return .waiting
    }

    /// Adds the fd, or changes what it reports: always input (edge-triggered),
    /// output only while a writer waits. Falls back between ADD and MOD in case
    /// the fd was closed (dropping the kernel's registration) without `deregister`.
    private func control(_ fd: Int32, _ registration: Registration, isNew: Bool) -> Bool {
        let events = Self.readMask | cepoll_et() | (registration.writer == nil ? 0 : Self.writeMask)
        let data = UInt64(registration.generation) << 32 | UInt64(UInt32(bitPattern: fd))
        let first = isNew ? cepoll_ctl_add() : cepoll_ctl_mod()
        if cepoll_ctl(epoll, first, fd, events, data) == 0 { return true }
        let fallback = isNew ? cepoll_ctl_mod() : cepoll_ctl_add()
        guard errno == (isNew ? EEXIST : ENOENT) else { return false }
        return cepoll_ctl(epoll, fallback, fd, events, data) == 0
    }

    /// Wakes the loop thread. Only under the lock, so the eventfd is open.
    private func signal() {
        var one: UInt64 = 1
        _ = Glibc.write(wakeFD, &one, MemoryLayout<UInt64>.size)
    }

    /// Removes the waiter and resumes it with the error, unless it was already resumed.
    private func finish(_ id: UInt64, with error: any Error) {
        let waiter = state.withLock { $0.removeWaiter(id) }
        waiter?.continuation.resume(throwing: error)
    }

    // MARK: - The loop thread

    /// True on an event loop's thread: where a connection's task, and so the
    /// handler, runs (for tests and assertions).
    public static var isCurrentThreadALoop: Bool {
        Thread.current.threadDictionary[loopThreadKey] != nil
    }

    private static let loopThreadKey = "HTTPServer.EventLoop"

    private func run() {
        Thread.current.threadDictionary[Self.loopThreadKey] = true
        let capacity = 256
        var events = [UInt32](repeating: 0, count: capacity)
        var data = [UInt64](repeating: 0, count: capacity)
        while true {
            let timeout = state.withLock { state -> Int32? in
                if state.isShutDown { return nil }
                // Jobs waiting: only poll, so they run right after.
                if !state.jobs.isEmpty { return 0 }
                let next = state.waiters.values.compactMap(\.deadline).min()
                state.sleep = next.map { .until($0) } ?? .indefinitely
                return next.map(Self.milliseconds(until:)) ?? -1
            }
            guard let timeout else { break }

            let count = cepoll_wait(epoll, &events, &data, Int32(capacity), timeout)
            let waitError = errno

            var ready: [Waiter] = []
            var expired: [Waiter] = []
            state.withLock { state in
                state.sleep = .awake
                for index in 0..<Int(max(count, 0)) {
                    if data[index] == Self.wakeToken {
                        var value: UInt64 = 0
                        _ = Glibc.read(wakeFD, &value, MemoryLayout<UInt64>.size)
                    } else {
                        ready += dispatch(events[index], data[index], in: &state)
                    }
                }
                let now = ContinuousClock.now
                let late = state.waiters.filter { $0.value.deadline.map { $0 <= now } ?? false }.keys
                expired = late.compactMap { state.removeWaiter($0) }
                if count < 0 && waitError != EINTR {
                    // epoll itself is broken (EBADF/EINVAL): fail everyone rather than spin.
                    state.isShutDown = true
                }
            }
            for waiter in ready { waiter.continuation.resume() }
            for waiter in expired { waiter.continuation.resume(throwing: SocketError.timedOut) }
            runJobs()
        }

        let remaining = state.withLock { state -> [Waiter] in
            let all = Array(state.waiters.values)
            state.waiters.removeAll()
            // Enqueued before the shutdown, not yet run: the global executor takes them.
            for job in state.jobs { globalConcurrentExecutor.enqueue(job) }
            state.jobs.removeAll()
            state.registrations.removeAll()
            Glibc.close(epoll)
            Glibc.close(wakeFD)
            return all
        }
        for waiter in remaining { waiter.continuation.resume(throwing: SocketError.closed) }
    }

    /// Takes the waiters an event satisfies; an edge nobody waits for is remembered.
    private func dispatch(_ events: UInt32, _ data: UInt64, in state: inout State) -> [Waiter] {
        let fd = Int32(bitPattern: UInt32(truncatingIfNeeded: data))
        let generation = UInt32(truncatingIfNeeded: data >> 32)
        guard var registration = state.registrations[fd], registration.generation == generation else { return [] }
        let failed = events & Self.failureMask != 0
        var woken: [Waiter] = []
        for (interest, mask) in Self.interestMasks where failed || events & mask != 0 {
            guard let id = registration[waiting: interest], let waiter = state.waiters.removeValue(forKey: id) else {
                registration[pending: interest] = true
                continue
            }
            woken.append(waiter)
            registration[waiting: interest] = nil
            // No writer left: stop reporting output (a failure here only costs spare events).
            if interest == .writable { _ = control(fd, registration, isNew: false) }
        }
        state.registrations[fd] = registration
        return woken
    }

    private static func milliseconds(until deadline: ContinuousClock.Instant) -> Int32 {
        let remaining = (deadline - .now).components
        guard remaining.seconds >= 0, remaining.attoseconds >= 0 else { return 0 }
        guard remaining.seconds < Int64(Int32.max / 1000) else { return Int32.max }
        // Round up so the loop does not wake just before the deadline and spin.
        let milliseconds = remaining.seconds * 1000 + (remaining.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        return Int32(clamping: milliseconds)
    }
}

extension EventLoop {
    fileprivate struct Waiter {
        let fd: Int32
        let interest: Interest
        let deadline: ContinuousClock.Instant?
        let continuation: UnsafeContinuation<Void, any Error>
    }

    fileprivate struct Registration {
        let generation: UInt32
        var reader: UInt64?
        var writer: UInt64?
        /// Edges that came while nobody waited: the next wait returns at once.
        var readable = false
        var writable = false

        /// The waiter for `interest`, if any.
        subscript(waiting interest: Interest) -> UInt64? {
            get { interest == .readable ? reader : writer }
            set { if interest == .readable { reader = newValue } else { writer = newValue } }
        }

        /// Whether an edge for `interest` came while nobody waited.
        subscript(pending interest: Interest) -> Bool {
            get { interest == .readable ? readable : writable }
            set { if interest == .readable { readable = newValue } else { writable = newValue } }
        }
    }

    fileprivate enum Sleep {
        case awake
        case indefinitely
        case until(ContinuousClock.Instant)
    }

    fileprivate struct State {
        var nextID: UInt64 = 1
        var nextGeneration: UInt32 = 1
        var registrations: [Int32: Registration] = [:]
        var waiters: [UInt64: Waiter] = [:]
        var isShutDown = false
        /// What the loop thread is doing, so a new deadline knows whether to wake it.
        var sleep = Sleep.awake
        /// Jobs of tasks that prefer this loop as their executor, in order.
        var jobs: [UnownedJob] = []

        mutating func makeID() -> UInt64 {
            defer { nextID += 1 }
            return nextID
        }

        mutating func makeGeneration() -> UInt32 {
            defer { nextGeneration &+= 1 }
            return nextGeneration
        }

        /// Removes the waiter and its slot on the fd; the fd stays armed, and
        /// an event nobody wants is simply dropped by `dispatch`.
        mutating func removeWaiter(_ id: UInt64) -> Waiter? {
            guard let waiter = waiters.removeValue(forKey: id) else { return nil }
            if var registration = registrations[waiter.fd] {
                if registration.reader == id { registration.reader = nil }
                if registration.writer == id { registration.writer = nil }
                registrations[waiter.fd] = registration
            }
            return waiter
        }
    }
}
