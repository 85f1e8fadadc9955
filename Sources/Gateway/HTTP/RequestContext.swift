import Foundation
import Logging

/// What one request carries through the handlers: its id, and a logger with it
/// bound. Built once, at the edge (`GatewayApplication.respond`), and reached by
/// the routes through `current` (the router's handlers take only the request).
struct RequestContext: Sendable {
    var requestID: String
    var logger: Logger
    var started: ContinuousClock.Instant
    var caller: Caller?

    /// The request being answered by this task.
    @TaskLocal static var current: RequestContext?

    init(requestID: String, logger: Logger, started: ContinuousClock.Instant) {
        self.requestID = requestID
        self.logger = logger
        self.logger[metadataKey: "request_id"] = "\(requestID)"
        self.started = started
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

    /// A random (version 4) UUID in lower case. Foundation's `UUID()` opens and
    /// reads /dev/urandom on every call on Linux; the system generator is one
    /// `getrandom` call, on every request that brings no id of its own.
    static func newRequestID() -> String {
        var generator = SystemRandomNumberGenerator()
        let high: UInt64 = generator.next() & ~(0xF << 12) | (0x4 << 12)  // version 4
        let low: UInt64 = generator.next() & ~(0x3 << 62) | (0x2 << 62)  // variant 10
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(36)
        for (index, shift) in stride(from: 124, through: 0, by: -4).enumerated() {
            if [8, 12, 16, 20].contains(index) { text.append(UInt8(ascii: "-")) }
            let word = shift >= 64 ? high >> UInt64(shift - 64) : low >> UInt64(shift)
            text.append(digits[Int(word & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    var elapsedMilliseconds: Int { (ContinuousClock.now - started).milliseconds }
}
