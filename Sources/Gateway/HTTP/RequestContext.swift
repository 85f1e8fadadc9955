import Foundation
import Logging

/// What one request carries through the handlers: its id, and a logger with it
/// bound. Built once, at the edge (`GatewayApplication.respond`), and reached by
/// the routes through `current` (the router's handlers take only the request).
struct RequestContext: Sendable {
    var requestID: String
    var started: ContinuousClock.Instant
    var caller: Caller?
    private let baseLogger: Logger

    /// The request being answered by this task.
    @TaskLocal static var current: RequestContext?

    init(requestID: String, logger: Logger, started: ContinuousClock.Instant) {
        self.requestID = requestID
        self.baseLogger = logger
        self.started = started
    }

    /// The logger with `request_id` bound, and `caller` once authenticated.
    /// Made when something logs, not for every request: most log nothing.
    var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "request_id"] = "\(requestID)"
        if let caller { logger[metadataKey: "caller"] = "\(caller.name)" }
        return logger
    }

    /// Keeps a caller's request id when it is sane (1–128 visible ASCII
    /// characters without quotes or backslashes), else makes a new one.
    static func requestID(from header: String?) -> String {
        if let header, (1...128).contains(header.utf8.count),
           header.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            return header
        }
        return newRequestID()
    }

    /// A random (version 4) UUID in lower case (`RequestIDGenerator`).
    static func newRequestID() -> String {
        RequestIDGenerator.next()
    }

    var elapsedMilliseconds: Int { (ContinuousClock.now - started).milliseconds }
}
