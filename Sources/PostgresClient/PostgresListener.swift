import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Listens on one channel (`LISTEN`) on a connection and a thread of its own,
/// and hands each notification on as it arrives.
///
/// After the connection breaks it reconnects (every `retryInterval` while the
/// database is down) and calls `onGap` once it listens again: notifications sent
/// meanwhile were lost, so whoever relies on them must look for itself.
public final class PostgresListener: Sendable {
    public let channel: String
    private let configuration: PostgresConfiguration
    private let logger: Logger
    private let retryInterval: Duration
    /// How often the thread looks up from its wait to see whether it must stop.
    private let tick: Duration = .milliseconds(200)

    public init(configuration: PostgresConfiguration, channel: String, logger: Logger, retryInterval: Duration = .seconds(1)) {
        self.configuration = configuration
        self.channel = channel
        self.logger = logger
        self.retryInterval = retryInterval
    }

    /// Listens until the task is cancelled. `onNotification` and `onGap` run on
    /// the listener's thread: they must return quickly.
    public func run(onNotification: @escaping @Sendable (PostgresNotification) -> Void,
                    onGap: @escaping @Sendable () -> Void = {}) async {
        let thread = ConnectionThread(name: "postgres-listen")
        let stopping = Locked(false)
        await withTaskCancellationHandler {
            await withCheckedContinuation { (finished: CheckedContinuation<Void, Never>) in
                let submitted = thread.submit { [self] connection in
                    listen(on: &connection, until: { stopping.withLock { $0 } }, onNotification: onNotification, onGap: onGap)
                    finished.resume()
                }
                if !submitted { finished.resume() }
            }
        } onCancel: {
            stopping.withLock { $0 = true }
        }
        thread.stop()
        await thread.waitUntilStopped()
    }

    /// The thread's loop: connect and LISTEN, then wait for notifications, until told to stop.
    private func listen(on connection: inout PostgresConnection?, until stop: () -> Bool,
                        onNotification: (PostgresNotification) -> Void, onGap: () -> Void) {
        var listenedBefore = false
        var failures = 0
        while !stop() {
            if connection == nil {
                do {
                    let opened = try PostgresConnection(configuration: configuration, logger: logger)
                    try opened.listen(channel)
                    connection = opened
                    if listenedBefore {
                        logger.info("listening again for notifications", metadata: ["db.channel": "\(channel)"])
                        onGap()
                    }
                    listenedBefore = true
                    failures = 0
                } catch {
                    failures += 1
                    // Once per outage at warning, then quietly: the pool reports the outage too.
                    logger.log(level: failures == 1 ? .warning : .debug, "cannot listen for notifications; retrying",
                               metadata: metadata(error))
                    sleep(retryInterval, unless: stop)
                    continue
                }
            }
            do {
                for notification in try connection!.notifications(waitingUpTo: tick) {
                    onNotification(notification)
                }
            } catch {
                logger.warning("lost the connection listening for notifications; reconnecting",
                               metadata: metadata(error))
                connection?.close()
                connection = nil
            }
        }
    }

    /// The channel and the error's summary; for a connection that failed or broke
    /// also libpq's message (scrubbed of the password; it quotes no row values).
    private func metadata(_ error: any Error) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["db.channel": "\(channel)"]
        if let error = error as? PostgresError {
            metadata.merge(error.summaryMetadata) { first, _ in first }
            if error.isConnectionProblem { metadata["db.error.message"] = "\(error.message)" }
        }
        return metadata
    }

    /// Blocks the listener's own thread for `duration`, looking up every tick.
    private func sleep(_ duration: Duration, unless stop: () -> Bool) {
        let end = ContinuousClock.now + duration
        while !stop() && ContinuousClock.now < end {
            let slice = min(tick, end - .now)
            var request = timespec(tv_sec: Int(slice.components.seconds),
                                   tv_nsec: Int(slice.components.attoseconds / 1_000_000_000))
            nanosleep(&request, nil)
        }
    }
}
