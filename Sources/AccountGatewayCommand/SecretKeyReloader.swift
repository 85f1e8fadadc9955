import Dispatch
import Foundation
import Gateway
import Logging
import TencentChat

/// Picks up a rotated key file without a restart: on SIGHUP, and whenever the
/// file's content changes (read every `interval`; content, not mtime, because a
/// mounted Kubernetes Secret changes by swapping symlinks). A new key signs
/// from the next call on, and the upstream circuit breaker probes at once.
struct SecretKeyReloader: Sendable {
    let path: String
    let signature: AdminSignature
    let application: GatewayApplication
    let logger: Logger
    var interval: Duration = .seconds(5)

    /// Runs until cancelled.
    func run() async {
        let hangups = AsyncStream<Void> { continuation in
            signal(SIGHUP, SIG_IGN)  // the default action ends the process
            let source = SignalSource(SIGHUP) { continuation.yield() }
            continuation.onTermination = { _ in source.cancel() }
        }
        // Both end when the task is cancelled.
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await _ in hangups {
                    logger.info("SIGHUP: reloading the secret key file")
                    await reload()
                }
            }
            group.addTask {
                while (try? await Task.sleep(for: interval)) != nil {
                    await reload()
                }
            }
        }
    }

    /// Reads the file; a changed, non-empty key replaces the one in use.
    func reload() async {
        let key: String
        do {
            key = try SecretFile.read(path)
        } catch {
            logger.warning("cannot use the secret key file; keeping the key in use", metadata: [
                "tencent.key_file": "\(path)", "error.message": "\(error.description)",
            ])
            return
        }
        guard signature.rotate(secretKey: key) else { return }
        logger.notice("secret key reloaded; the next Tencent call signs with it", metadata: ["tencent.key_file": "\(path)"])
        await application.upstreamConfigurationChanged()
    }
}

/// A signal's dispatch source, alive until cancelled.
private final class SignalSource: Sendable {
    nonisolated(unsafe) private let source: any DispatchSourceSignal  // only resumed and cancelled, both thread-safe

    init(_ number: Int32, handler: @escaping @Sendable () -> Void) {
        source = DispatchSource.makeSignalSource(signal: number, queue: DispatchQueue(label: "signal-\(number)"))
        source.setEventHandler(handler: handler)
        source.resume()
    }

    func cancel() {
        source.cancel()
    }
}
