import CCurlTransport
import Foundation
import Synchronization

/// The production transport where libcurl can be loaded (Linux): each call runs
/// to its end on a thread of its own, through libcurl's easy interface, on a
/// handle that keeps its connection to Tencent alive for the next call.
///
/// Why not URLSession, which drives the same libcurl: on Linux it passes each
/// call and its answer between several threads of its own, which cost about
/// 0.8 ms a call here against a direct call (docs/ARCHITECTURE.md, "Round
/// trips of one new account"). Here the calling task hands the call to a
/// waiting thread, and that thread resumes the task with the answer.
///
/// The same rules as `URLSessionTransport`: a hard total deadline per call,
/// redirects refused (a 3xx is the answer), http and https only, TLS
/// verification always on, at most `maxConnections` calls under way at once
/// (more wait for a free thread, in order), and the same error classes. The CA
/// file belongs to this transport, not to the process.
public final class CurlTransport: TencentTransport {
    /// Whether libcurl (7.85 or newer) can be used in this process.
    public static var isAvailable: Bool { ccurl_available() == 0 }

    /// Calls under way at once at the most, each on a connection of its own (see
    /// `URLSessionTransport.defaultMaxConnectionsPerHost` for the figure).
    public static let defaultMaxConnections = URLSessionTransport.defaultMaxConnectionsPerHost

    public struct Unavailable: Error, CustomStringConvertible {
        public init() {}
        public var description: String { "libcurl 7.85 or newer could not be loaded" }
    }

    /// An answer longer than this is refused (Tencent's are a few hundred bytes).
    static let maxAnswerBytes = 4 << 20

    private let pool: CurlWorkerPool

    /// - Parameters:
    ///   - maxConnections: calls under way at once at the most.
    ///   - caFile: a PEM file of CA certificates to verify Tencent (or a
    ///     re-signing egress proxy) against instead of the system trust store;
    ///     libcurl's default certificate directory is still consulted.
    /// - Throws: `URLSessionTransport.CAFileError` for a file that cannot be
    ///   used, `Unavailable` when libcurl cannot be loaded (see `isAvailable`).
    public init(maxConnections: Int = CurlTransport.defaultMaxConnections, caFile: String? = nil) throws {
        guard Self.isAvailable else { throw Unavailable() }
        pool = CurlWorkerPool(maxWorkers: max(1, maxConnections),
                              caFile: try caFile.map(URLSessionTransport.validatedCAFile))
    }

    deinit {
        pool.stop()
    }

    public func post(url: URL, body: Data, timeout: Duration) async throws -> (status: Int, body: Data) {
        guard let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https" else {
            throw TencentTransportError.other("unsupported URL scheme")
        }
        let milliseconds = max(1, Int((timeout.seconds * 1000).rounded(.up)))
        let call = CurlCall(url: url.absoluteString, body: body, timeoutMilliseconds: milliseconds)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                if call.begin(continuation) { pool.run(call) }
            }
        } onCancel: {
            call.cancel()
        }
    }

    /// libcurl's result codes (CURLcode, curl/curl.h), in the transport's error classes.
    static func map(code: Int32) -> TencentTransportError {
        let detail = "libcurl error \(code)"
        switch code {
        case 28: return .timedOut  // CURLE_OPERATION_TIMEDOUT
        case 42: return .cancelled  // CURLE_ABORTED_BY_CALLBACK: only the cancellation flag aborts
        case 5, 6, 7: return .cannotConnect(detail)  // could not resolve the proxy or host, or connect
        case 8, 16, 18, 52, 55, 56, 92:  // weird reply, HTTP/2 error, partial answer, no answer, send or receive failed
            return .connectionLost(detail)
        case 35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98:  // the CURLE_SSL_* family and peer verification
            return .tls(detail + " (certificate or handshake)")
        case 23: return .other(detail + " (answer longer than \(maxAnswerBytes) bytes)")  // CURLE_WRITE_ERROR
        default: return .other(detail)
        }
    }
}

/// One call, from the task that makes it to the thread that runs it. Whoever
/// ends it first (the thread with the answer, or the task's cancellation) resumes
/// the task; a cancelled call still running on its thread is told to stop.
final class CurlCall: @unchecked Sendable {
    let url: String
    let body: Data
    let timeoutMilliseconds: Int
    /// Raised on cancellation; libcurl's progress callback reads it.
    let cancelled: OpaquePointer

    private struct State {
        var continuation: CheckedContinuation<(status: Int, body: Data), any Error>?
        var cancelledBeforeStart = false
        var finished = false
    }
    private let state = Mutex(State())

    init(url: String, body: Data, timeoutMilliseconds: Int) {
        self.url = url
        self.body = body
        self.timeoutMilliseconds = timeoutMilliseconds
        cancelled = ccurl_flag_new()
    }

    deinit {
        ccurl_flag_free(cancelled)
    }

    /// Keeps the continuation; false (and the task resumed) when already cancelled.
    func begin(_ continuation: CheckedContinuation<(status: Int, body: Data), any Error>) -> Bool {
        let cancelledFirst = state.withLock { state in
            if state.cancelledBeforeStart { state.finished = true; return true }
            state.continuation = continuation
            return false
        }
        if cancelledFirst { continuation.resume(throwing: TencentTransportError.cancelled) }
        return !cancelledFirst
    }

    var isFinished: Bool { state.withLock { $0.finished } }

    func finish(_ result: Result<(status: Int, body: Data), any Error>) {
        let continuation = state.withLock { state -> CheckedContinuation<(status: Int, body: Data), any Error>? in
            guard !state.finished else { return nil }
            state.finished = true
            defer { state.continuation = nil }
            return state.continuation
        }
        continuation?.resume(with: result)
    }

    func cancel() {
        ccurl_flag_raise(cancelled)
        let started = state.withLock { state -> Bool in
            if state.continuation == nil { state.cancelledBeforeStart = true }
            return state.continuation != nil
        }
        if started { finish(.failure(TencentTransportError.cancelled)) }
    }
}

/// Threads that run calls, each with its own libcurl handle (and so its own
/// keep-alive connection). Started on demand up to `maxWorkers`; a call that
/// finds them all busy waits in a queue, and the next thread to finish takes it.
/// The most recently idle thread is used first, so its connection is the warmest.
final class CurlWorkerPool: Sendable {
    private struct State {
        var idle: [CurlWorker] = []
        var started = 0
        var waiting: [CurlCall] = []
        var waitingHead = 0
        var stopped = false
    }
    private let state = Mutex(State())
    let maxWorkers: Int
    let caFile: String?

    init(maxWorkers: Int, caFile: String?) {
        self.maxWorkers = maxWorkers
        self.caFile = caFile
    }

    func run(_ call: CurlCall) {
        enum Next { case hand(CurlWorker), start, queued }
        let next = state.withLock { state -> Next in
            if let worker = state.idle.popLast() { return .hand(worker) }
            if state.started < maxWorkers { state.started += 1; return .start }
            state.waiting.append(call)
            return .queued
        }
        switch next {
        case .hand(let worker): worker.hand(call)
        case .start:
            guard let worker = CurlWorker(pool: self) else {
                state.withLock { $0.started -= 1 }
                call.finish(.failure(TencentTransportError.other("libcurl could not make a handle")))
                return
            }
            worker.start(with: call)
        case .queued: break
        }
    }

    /// The next queued call for a worker that finished one, or nil (the worker is then
    /// idle, or told to end when the pool has stopped).
    func next(for worker: CurlWorker) -> CurlCall? {
        state.withLock { state in
            if state.waitingHead < state.waiting.count {
                let call = state.waiting[state.waitingHead]
                state.waitingHead += 1
                if state.waitingHead == state.waiting.count { state.waiting.removeAll(keepingCapacity: true); state.waitingHead = 0 }
                return call
            }
            if !state.stopped { state.idle.append(worker) }
            return nil
        }
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Ends idle threads now and busy ones after their call; queued calls end as cancelled.
    func stop() {
        let (idle, waiting) = state.withLock { state -> ([CurlWorker], [CurlCall]) in
            state.stopped = true
            defer { state.idle.removeAll(); state.waiting.removeAll(); state.waitingHead = 0 }
            return (state.idle, Array(state.waiting[state.waitingHead...]))
        }
        for worker in idle { worker.hand(nil) }
        for call in waiting { call.finish(.failure(TencentTransportError.cancelled)) }
    }
}

/// One thread and its libcurl handle.
final class CurlWorker: @unchecked Sendable {
    private let handle: OpaquePointer
    private let pool: CurlWorkerPool
    private let wake = DispatchSemaphore(value: 0)
    /// Written before `wake` is signalled and read after it is waited on: the
    /// semaphore orders the two.
    private var job: CurlCall?

    init?(pool: CurlWorkerPool) {
        guard let handle = ccurl_handle_new() else { return nil }
        self.handle = handle
        self.pool = pool
    }

    deinit {
        ccurl_handle_free(handle)
    }

    func start(with call: CurlCall) {
        job = call
        let thread = Thread { [self] in loop() }
        thread.name = "upstream-curl"
        thread.start()
    }

    /// Gives an idle worker its next call; nil ends it.
    func hand(_ call: CurlCall?) {
        job = call
        wake.signal()
    }

    private func loop() {
        var call = job
        job = nil
        while let current = call {
            let result = perform(current)
            // Back in the pool before the caller resumes, so that its next call finds
            // this thread (and its connection) free rather than starting another.
            call = pool.next(for: self)
            if let result { current.finish(result) }
            if call == nil {
                if pool.isStopped { return }
                wake.wait()
                call = job
                job = nil  // not idle now: nobody hands it a call until `next(for:)` says so
            }
        }
    }

    /// The call's result; nil when it had ended before it started (cancelled while it waited).
    private func perform(_ call: CurlCall) -> Result<(status: Int, body: Data), any Error>? {
        guard !call.isFinished else { return nil }
        var result = ccurl_result()
        withCAFile { caFile in
            call.url.withCString { url in
                call.body.withUnsafeBytes { body in
                    ccurl_post(handle, url, body.baseAddress, body.count, call.timeoutMilliseconds, caFile,
                               CurlTransport.maxAnswerBytes, call.cancelled, &result)
                }
            }
        }
        guard result.code == 0 else { return .failure(CurlTransport.map(code: result.code)) }
        let answer = result.body.map { Data(bytes: $0, count: result.body_length) } ?? Data()
        ccurl_body_free(result.body)
        return .success((Int(result.status), answer))
    }

    /// The pool's CA file as a C string, or NULL for libcurl's default bundle.
    private func withCAFile<R>(_ body: (UnsafePointer<CChar>?) -> R) -> R {
        guard let caFile = pool.caFile else { return body(nil) }
        return caFile.withCString(body)
    }
}
