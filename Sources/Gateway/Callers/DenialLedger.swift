import Synchronization

/// Keeps a flood of refused requests off the audit chain while accounting for
/// every one of them. The first denial of a source (client address, status,
/// caller and route) in a window of a minute is audited at once, as before; the rest of
/// that window are only counted, and one `auth.denied` event records their
/// number in `attempt` when the window closes (`due`) or the replica stops
/// (`drain`). A source that is refused once a minute or less therefore costs one
/// event per denial; one that is refused a thousand times a second costs two
/// events a minute and no query at all (see `CallerStore`'s refusal cache).
final class DenialLedger: Sendable {
    struct Source: Hashable, Sendable {
        var address: String
        var status: Int
        /// Known on a 403.
        var caller: String?
        /// The route pattern refused, e.g. `/accounts/{user_id}`.
        var route: String
    }

    /// Denials counted but not yet audited, and the last request among them.
    struct Summary: Sendable, Equatable {
        var source: Source
        var count: Int
        var requestID: String
    }

    private struct Window {
        var opened: ContinuousClock.Instant
        var suppressed = 0
        var lastRequestID = ""
    }

    private struct State {
        var open: [Source: Window] = [:]
        /// Closed windows' counts, not yet taken by `due`.
        var closed: [Summary] = []
    }

    let window: Duration
    /// Sources tracked at once; beyond it every denial is audited on its own.
    let capacity: Int
    private let state = Mutex(State())

    init(window: Duration = .seconds(60), capacity: Int = 10_000) {
        self.window = window
        self.capacity = capacity
    }

    /// Whether this denial gets an audit event of its own now; if not, it is counted.
    func record(_ source: Source, requestID: String, now: ContinuousClock.Instant = .now) -> Bool {
        state.withLock { state in
            if var current = state.open[source] {
                if now - current.opened < window {
                    current.suppressed += 1
                    current.lastRequestID = requestID
                    state.open[source] = current
                    return false
                }
                Self.close(source, current, into: &state)
            }
            guard state.open.count < capacity else { return true }
            state.open[source] = Window(opened: now)
            return true
        }
    }

    /// The counts of windows that have closed, forgotten here once returned.
    func due(now: ContinuousClock.Instant = .now) -> [Summary] {
        take { now - $0.opened >= window }
    }

    /// Every count not yet audited, closed window or not (at shutdown).
    func drain() -> [Summary] {
        take { _ in true }
    }

    private func take(_ closing: (Window) -> Bool) -> [Summary] {
        state.withLock { state in
            for (source, window) in state.open where closing(window) {
                Self.close(source, window, into: &state)
            }
            defer { state.closed.removeAll() }
            return state.closed
        }
    }

    private static func close(_ source: Source, _ window: Window, into state: inout State) {
        state.open[source] = nil
        if window.suppressed > 0 {
            state.closed.append(Summary(source: source, count: window.suppressed, requestID: window.lastRequestID))
        }
    }
}
