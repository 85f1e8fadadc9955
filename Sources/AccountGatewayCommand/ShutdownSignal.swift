import Dispatch
import Foundation
import Logging
import Synchronization

/// Waits for SIGTERM or SIGINT. The default actions are ignored so the
/// process can stop gracefully instead of dying mid-request.
enum ShutdownSignal {
    static func wait(logger: Logger) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let queue = DispatchQueue(label: "shutdown-signal")
            let once = SignalOnce(continuation)
            var sources: [DispatchSourceSignal] = []
            for number in [SIGTERM, SIGINT] {
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
                source.setEventHandler {
                    logger.info("signal received", metadata: ["signal": "\(number == SIGTERM ? "SIGTERM" : "SIGINT")"])
                    once.fire()
                }
                source.resume()
                sources.append(source)
            }
            once.keep(sources)
        }
    }
}

/// Resumes once; keeps the signal sources alive for the life of the process.
private final class SignalOnce: Sendable {
    private let state: Mutex<(continuation: CheckedContinuation<Void, Never>?, sources: [any DispatchSourceSignal])>

    init(_ continuation: CheckedContinuation<Void, Never>) {
        state = Mutex((continuation, []))
    }

    func keep(_ sources: [any DispatchSourceSignal]) {
        state.withLock { $0.sources = sources }
    }

    func fire() {
        state.withLock { $0.continuation.take() }?.resume()
    }
}
