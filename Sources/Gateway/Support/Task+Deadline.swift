import Synchronization

extension Task where Success == Void, Failure == Never {
    /// Waits until the task finishes or `timeout` passes, whichever is first,
    /// without cancelling it: the work goes on after the wait gives up.
    func finish(within timeout: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = ResumeOnce(continuation)
            let timer = Task<Void, Never> { try? await Task<Never, Never>.sleep(for: timeout); once.resume() }
            // The timer is cancelled as soon as the work is done: no sleeping task is left behind.
            Task<Void, Never> { await self.value; once.resume(); timer.cancel() }
        }
    }
}

extension Task where Failure == Never {
    /// The task's value if it finishes within `timeout`, else nil; the task goes on either way.
    func value(within timeout: Duration) async -> Success? {
        let result = FirstValue<Success>()
        let wrapper = Task<Void, Never> { result.set(await self.value) }
        await wrapper.finish(within: timeout)
        return result.value
    }
}

/// A continuation that may be resumed from several places; only the first counts.
final class ResumeOnce: Sendable {
    private let continuation: Mutex<CheckedContinuation<Void, Never>?>

    init(_ continuation: CheckedContinuation<Void, Never>) {
        self.continuation = Mutex(continuation)
    }

    func resume() {
        continuation.withLock { $0.take() }?.resume()
    }
}

/// A value set once by one task and read by another.
final class FirstValue<Value: Sendable>: Sendable {
    private let stored = Mutex<Value?>(nil)

    var value: Value? { stored.withLock { $0 } }

    func set(_ value: Value) {
        stored.withLock { $0 = $0 ?? value }
    }
}
