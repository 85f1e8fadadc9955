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
            return String(Base64URL.encode(Array(digest)).prefix(32))
        }
    }
}

