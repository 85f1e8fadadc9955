import Crypto
import Foundation

/// Bearer tokens: 32 random bytes, shown once; only their SHA-256 is stored.
public enum BearerToken {
    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        return "agw_" + Base64URL.encode(bytes)
    }

    /// `agw_` and 43 characters of base64url: the shape `generate` makes.
    public static func isWellFormed(_ token: String) -> Bool {
        let utf8 = token.utf8
        return utf8.count == 47 && token.hasPrefix("agw_") && utf8.dropFirst(4).allSatisfy(ChatID.isAllowedByte)
    }

    public static func digest(_ token: String) -> [UInt8] {
        Array(SHA256.hash(data: Array(token.utf8)))
    }
}
