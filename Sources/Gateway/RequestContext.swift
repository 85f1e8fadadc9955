import Foundation
import Logging

/// What one request carries through the handlers: its id, and a logger with it bound.
struct RequestContext: Sendable {
    var requestID: String
    var logger: Logger
    var started: ContinuousClock.Instant
    var caller: Caller?

    /// Keeps a caller's request id when it is sane (1–128 visible ASCII
    /// characters without quotes or backslashes), else makes a new one.
    static func requestID(from header: String?) -> String {
        if let header, (1...128).contains(header.utf8.count),
           header.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") }) {
            return header
        }
        return UUID().uuidString.lowercased()
    }

    var elapsedMilliseconds: Int { (ContinuousClock.now - started).milliseconds }
}
