import Synchronization

extension Task where Success == Void, Failure == Never {
    /// Waits until the task finishes or `timeout` passes, whichever is first,
    /// without cancelling it: the work goes on after the wait gives up.
    func finish(within timeout: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let once = ResumeOnce(continuation)
            Task<Void, Never> { await self.value; once.resume() }
            Task<Void, Never> { try? await Task<Never, Never>.sleep(for: timeout); once.resume() }
        }
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
