import Crypto

/// Text forms the gateway hashes and compares.
enum Digest {
    /// SHA-256 of the UTF-8 bytes, as 64 lowercase hex digits (what PostgreSQL's
    /// `encode(sha256(...), 'hex')` gives, so Swift and SQL agree).
    static func sha256Hex(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// A field of a canonical text: `length:value` (bytes), or `-` for none, so
    /// no value can imitate a separator or the absence of a value.
    static func lengthPrefixed(_ value: String?) -> String {
        value.map { "\($0.utf8.count):\($0)" } ?? "-"
    }
}
