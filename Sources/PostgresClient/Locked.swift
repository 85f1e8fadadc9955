import Synchronization

/// A value that is only ever touched while holding a lock: a `Mutex` in a
/// class, so it can be shared (and captured by escaping closures) where a
/// noncopyable `Mutex` cannot go.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) {
        mutex = Mutex(value)
    }

    func withLock<Result>(_ body: (inout sending Value) throws -> sending Result) rethrows -> sending Result {
        try mutex.withLock(body)
    }
}
