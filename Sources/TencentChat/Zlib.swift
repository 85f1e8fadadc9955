import CZlib
import Foundation

/// RFC 1950 zlib streams through the system zlib (`compress2`/`uncompress`).
enum Zlib {
    /// A UserSig's JSON is a few hundred bytes; refuse to inflate past this.
    static let maxInflatedSize = 64 * 1024

    static func compress(_ input: Data) -> Data {
        var capacity = compressBound(uLong(input.count))
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = input.withUnsafeBytes { source in
            compress2(&output, &capacity, source.bindMemory(to: Bytef.self).baseAddress, uLong(input.count), Z_DEFAULT_COMPRESSION)
        }
        // compressBound guarantees room, so only memory exhaustion can fail here.
        precondition(status == Z_OK, "zlib compress2 failed: \(status)")
        return Data(output.prefix(Int(capacity)))
    }

    /// Nil when the input is not a complete zlib stream or inflates past the limit.
    static func uncompress(_ input: Data) -> Data? {
        guard !input.isEmpty else { return nil }
        var capacity = max(256, input.count * 4)
        while capacity <= maxInflatedSize {
            var length = uLongf(capacity)
            var output = [UInt8](repeating: 0, count: capacity)
            let status = input.withUnsafeBytes { source in
                CZlib.uncompress(&output, &length, source.bindMemory(to: Bytef.self).baseAddress, uLong(input.count))
            }
            switch status {
            case Z_OK: return Data(output.prefix(Int(length)))
            case Z_BUF_ERROR where Int(length) == capacity: capacity *= 2  // output full: retry larger
            default: return nil  // Z_DATA_ERROR, or Z_BUF_ERROR for a truncated stream
            }
        }
        return nil
    }
}
