import Glibc
import Synchronization

/// The server's open connections: enforces the cap and lets `stop()` close
/// the listener and idle keep-alive connections at once.
///
/// Stopping works through `shutdown(2)`, which is sticky in the kernel: a
/// connection that starts waiting after the call still sees end-of-stream at
/// once, so there is no window in which a stop can be missed. It is only
/// ever called under the lock on fds still registered here, and owners
/// remove their fd before closing it, so a reused fd number is never hit.
final class ConnectionRegistry: Sendable {
    enum Admission {
        case admitted(id: UInt64)
        /// Over the cap: answer 503 and close.
        case rejected
        /// Over the cap and already rejecting many: close without a word.
        case dropped
    }

    private struct Entry {
        let socket: Socket
        var isIdle = false
    }

    private struct State {
        var nextID: UInt64 = 1
        var connections: [UInt64: Entry] = [:]
        var rejecting = 0
        var isStopping = false
        var listener: Socket?
    }

    /// 503 answers in flight at once; beyond, excess connections are just closed.
    static let maxRejecting = 64

    let maxConnections: Int
    private let state: Mutex<State>

    init(maxConnections: Int, listener: Socket) {
        self.maxConnections = maxConnections
        self.state = Mutex(State(listener: listener))
    }

    var isStopping: Bool { state.withLock { $0.isStopping } }
    var count: Int { state.withLock { $0.connections.count } }

    func admit(_ socket: Socket) -> Admission {
        state.withLock { state in
            if state.connections.count < maxConnections {
                defer { state.nextID += 1 }
                state.connections[state.nextID] = Entry(socket: socket)
                return .admitted(id: state.nextID)
            }
            guard state.rejecting < Self.maxRejecting else { return .dropped }
            state.rejecting += 1
            return .rejected
        }
    }

    func finishRejecting() {
        state.withLock { $0.rejecting -= 1 }
    }

    /// Called between requests; false when the server is stopping and the
    /// connection should close instead of waiting for another request.
    func markIdle(_ id: UInt64) -> Bool {
        state.withLock { state in
            guard !state.isStopping else { return false }
            state.connections[id]?.isIdle = true
            return true
        }
    }

    func markBusy(_ id: UInt64) {
        state.withLock { $0.connections[id]?.isIdle = false }
    }

    /// Must come before the connection's fd is closed.
    func remove(_ id: UInt64) {
        state.withLock { _ = $0.connections.removeValue(forKey: id) }
    }

    /// Must come before the listener's fd is closed.
    func releaseListener() {
        state.withLock { $0.listener = nil }
    }

    /// Refuses new connections from now on (the listening socket stops
    /// listening, its accept wait wakes) and wakes idle connections with
    /// end-of-stream so they close; busy ones finish their request.
    func beginStopping() {
        state.withLock { state in
            state.isStopping = true
            state.listener?.shutdown(Int(SHUT_RDWR))
            for entry in state.connections.values where entry.isIdle {
                entry.socket.shutdown(Int(SHUT_RD))
            }
        }
    }
}
