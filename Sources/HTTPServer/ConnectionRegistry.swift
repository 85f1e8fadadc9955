import Glibc
import Synchronization

/// The server's open connections: enforces the caps (in all, and per client
/// address), makes room at the cap by closing the connection idle the longest,
/// and lets `stop()` close the listener and idle keep-alive connections at once.
///
/// Stopping works through `shutdown(2)`, which is sticky in the kernel: a
/// connection that starts waiting after the call still sees end-of-stream at
/// once, so there is no window in which a stop can be missed. It is only
/// ever called under the lock on fds still registered here, and owners
/// remove their fd before closing it, so a reused fd number is never hit.
final class ConnectionRegistry: Sendable {
    enum Admission {
        case admitted(id: UInt64)
        /// Over a cap: answer 503, saying which, and close.
        case rejected(reason: String)
        /// Over the cap and already rejecting many: close without a word.
        case dropped
    }

    private struct Entry {
        let socket: Socket
        let client: String
        /// Since when it waits for a request between two; nil while busy.
        var idleSince: ContinuousClock.Instant?
    }

    private struct State {
        var nextID: UInt64 = 1
        var connections: [UInt64: Entry] = [:]
        var perClient: [String: Int] = [:]
        var rejecting = 0
        var isStopping = false
        var listener: Socket?
    }

    /// 503 answers in flight at once; beyond, excess connections are just closed.
    static let maxRejecting = 64

    let maxConnections: Int
    let maxPerClient: Int
    private let state: Mutex<State>

    init(maxConnections: Int, maxPerClient: Int, listener: Socket) {
        self.maxConnections = maxConnections
        self.maxPerClient = maxPerClient
        self.state = Mutex(State(listener: listener))
    }

    var isStopping: Bool { state.withLock { $0.isStopping } }
    var count: Int { state.withLock { $0.connections.count } }

    func admit(_ socket: Socket, client: String?) -> Admission {
        let client = client ?? "unknown"
        return state.withLock { state in
            // At a cap, the longest idle connection makes room (the client's own at its cap).
            let clientRoom = state.perClient[client, default: 0] < maxPerClient || Self.evictLongestIdle(&state, of: client)
            let room = clientRoom && (state.connections.count < maxConnections || Self.evictLongestIdle(&state))
            if room {
                defer { state.nextID += 1 }
                state.connections[state.nextID] = Entry(socket: socket, client: client)
                state.perClient[client, default: 0] += 1
                return .admitted(id: state.nextID)
            }
            guard state.rejecting < Self.maxRejecting else { return .dropped }
            state.rejecting += 1
            return .rejected(reason: clientRoom
                ? "too many connections (at most \(maxConnections))"
                : "too many connections from this address (at most \(maxPerClient))")
        }
    }

    /// Closes the keep-alive connection idle the longest (its read sees
    /// end-of-stream and it closes itself); false when none is idle. It leaves
    /// the registry now, so it never counts twice and is never hit again.
    private static func evictLongestIdle(_ state: inout State, of client: String? = nil) -> Bool {
        let idle = state.connections.filter { $0.value.idleSince != nil && (client == nil || $0.value.client == client) }
        guard let (id, entry) = idle.min(by: { $0.value.idleSince! < $1.value.idleSince! }) else { return false }
        entry.socket.shutdown(Int(SHUT_RD))
        forget(id, in: &state)
        return true
    }

    private static func forget(_ id: UInt64, in state: inout State) {
        guard let entry = state.connections.removeValue(forKey: id) else { return }
        state.perClient[entry.client, default: 1] -= 1
        if state.perClient[entry.client] == 0 { state.perClient[entry.client] = nil }
    }

    func finishRejecting() {
        state.withLock { $0.rejecting -= 1 }
    }

    /// Called between requests; false when the server is stopping and the
    /// connection should close instead of waiting for another request.
    func markIdle(_ id: UInt64) -> Bool {
        state.withLock { state in
            guard !state.isStopping else { return false }
            state.connections[id]?.idleSince = .now
            return true
        }
    }

    func markBusy(_ id: UInt64) {
        state.withLock { $0.connections[id]?.idleSince = nil }
    }

    /// Must come before the connection's fd is closed.
    func remove(_ id: UInt64) {
        state.withLock { Self.forget(id, in: &$0) }
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
            for entry in state.connections.values where entry.idleSince != nil {
                entry.socket.shutdown(Int(SHUT_RD))
            }
        }
    }
}
