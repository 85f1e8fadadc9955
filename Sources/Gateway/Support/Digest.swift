import Crypto

/// Text forms the gateway hashes and compares.
enum Digest {
    /// SHA-256 of the UTF-8 bytes, as 64 lowercase hex digits (what PostgreSQL's
    /// `encode(sha256(...), 'hex')` gives, so Swift and SQL agree).
    static func sha256Hex(_ text: String) -> String {
        String(decoding: sha256Hex(bytes: Array(text.utf8)), as: UTF8.self)
    }

    /// The same 64 hex digits, as ASCII bytes, for callers that compare bytes.
    static func sha256Hex(bytes: [UInt8]) -> [UInt8] {
        var hex: [UInt8] = []
        hex.reserveCapacity(64)
        for byte in SHA256.hash(data: bytes) {
            hex.append(hexDigits[Int(byte >> 4)])
            hex.append(hexDigits[Int(byte & 0x0f)])
        }
        return hex
    }

    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// A field of a canonical text: `length:value` (bytes), or `-` for none, so
    /// no value can imitate a separator or the absence of a value.
    static func lengthPrefixed(_ value: String?) -> String {
        value.map { "\($0.utf8.count):\($0)" } ?? "-"
    }
}
