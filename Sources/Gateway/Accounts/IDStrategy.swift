import Crypto

/// How a `chat_user_id` (the Chat account ID) is derived from the app's `user_id`.
public enum IDStrategy: String, Sendable, CaseIterable {
    /// `chat_user_id == user_id`; `user_id` must already be a valid Chat ID.
    case verbatim
    /// `chat_user_id` is a digest of `user_id`, so app identifiers such as
    /// e-mail addresses never reach the vendor.
    case hashed

    /// Validates `userID` for this strategy; `nil` when valid, else why not.
    public func problem(with userID: String) -> String? {
        let bytes = userID.utf8.count
        switch self {
        case .verbatim:
            if bytes == 0 || bytes > 32 { return "must be 1 to 32 bytes (got \(bytes))" }
            if !userID.utf8.allSatisfy(ChatID.isAllowedByte) {
                return "may contain only letters, digits, '_' and '-' (ID strategy 'verbatim')"
            }
            return nil
        case .hashed:
            if bytes == 0 || bytes > 256 { return "must be 1 to 256 bytes (got \(bytes))" }
            if userID.unicodeScalars.contains(where: { !ChatID.isPrintable($0) }) {
                return "must be printable UTF-8 (no control characters)"
            }
            return nil
        }
    }

    /// The Chat account ID for a valid `userID`.
    public func chatUserID(for userID: String) -> String {
        switch self {
        case .verbatim:
            return userID
        case .hashed:
            // SHA-256 over a domain-separated input, base64url without padding,
            // cut to 32 characters: 192 bits, stable across releases and keys.
            let digest = SHA256.hash(data: Array("account-gateway/v1:\(userID)".utf8))
            return String(ChatID.base64URL(Array(digest)).prefix(32))
        }
    }
}

enum ChatID {
    static func isAllowedByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.properties.generalCategory {
        case .control, .surrogate, .unassigned, .privateUse: return false
        default: return true
        }
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let n = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(n >> 18 & 63)])
            out.append(alphabet[Int(n >> 12 & 63)])
            if i + 1 < bytes.count { out.append(alphabet[Int(n >> 6 & 63)]) }
            if i + 2 < bytes.count { out.append(alphabet[Int(n & 63)]) }
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
