import Crypto
import Foundation

/// A Tencent Cloud Chat UserSig (version 2, HMAC-SHA256): the decoded claims,
/// plus the functions that make and check the opaque string.
///
/// The string is `base64*-_(zlib(JSON))`; the JSON carries the claims and
/// `TLS.sig`, an HMAC-SHA256 over a fixed text keyed with the app's secret key.
public struct UserSig: Sendable, Equatable {
    public var identifier: String
    public var sdkAppID: Int
    /// Issue time, Unix seconds.
    public var time: Int
    /// Seconds of validity after `time`.
    public var expire: Int
    /// Standard Base64 of the HMAC (`TLS.sig`).
    public var sig: String
    /// Optional base64 user buffer (`TLS.userbuf`), part of the signed text when present.
    public var userbuf: String?

    /// Tencent's default validity: 180 days.
    public static let defaultExpire = 180 * 86_400

    public init(identifier: String, sdkAppID: Int, time: Int, expire: Int, sig: String, userbuf: String? = nil) {
        self.identifier = identifier
        self.sdkAppID = sdkAppID
        self.time = time
        self.expire = expire
        self.sig = sig
        self.userbuf = userbuf
    }

    /// Unix seconds after which the signature is rejected (`now > expiresAt`).
    public var expiresAt: Int {
        // Claims come from untrusted input: saturate rather than trap.
        let (sum, overflow) = time.addingReportingOverflow(expire)
        return overflow ? (expire > 0 ? .max : .min) : sum
    }

    // MARK: Generating

    /// Makes a UserSig string for `identifier`, valid `expire` seconds from `now`.
    public static func generate(
        identifier: String, sdkAppID: Int, secretKey: String,
        expire: Int = defaultExpire, now: Date = Date()
    ) -> String {
        let time = unixSeconds(now)
        let sig = tlsSig(identifier: identifier, sdkAppID: sdkAppID, time: time, expire: expire, secretKey: secretKey)
        return UserSig(identifier: identifier, sdkAppID: sdkAppID, time: time, expire: expire, sig: sig).encoded()
    }

    /// `TLS.sig`: standard Base64 of HMAC-SHA256 over the signed text, keyed with
    /// the UTF-8 bytes of the secret key (not hex-decoded).
    public static func tlsSig(
        identifier: String, sdkAppID: Int, time: Int, expire: Int, secretKey: String, userbuf: String? = nil
    ) -> String {
        let content = signedContent(identifier: identifier, sdkAppID: sdkAppID, time: time, expire: expire, userbuf: userbuf)
        let mac = HMAC<SHA256>.authenticationCode(for: Data(content.utf8), using: SymmetricKey(data: Data(secretKey.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// Every line ends in LF, the last one too.
    static func signedContent(identifier: String, sdkAppID: Int, time: Int, expire: Int, userbuf: String?) -> String {
        var content = "TLS.identifier:\(identifier)\nTLS.sdkappid:\(sdkAppID)\nTLS.time:\(time)\nTLS.expire:\(expire)\n"
        if let userbuf { content += "TLS.userbuf:\(userbuf)\n" }
        return content
    }

    /// A JSON string literal (JSONEncoder's escaping: quotes, backslashes, controls; UTF-8 stays as it is).
    static func jsonString(_ value: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .withoutEscapingSlashes
        return (try? encoder.encode(value)).map { String(decoding: $0, as: UTF8.self) } ?? "\"\""
    }

    /// The opaque string: this UserSig's JSON, zlib-compressed, in Tencent's Base64 variant.
    public func encoded() -> String {
        // Same key order and spacing as Tencent's Python generator, so equal inputs give equal strings.
        var json = "{\"TLS.ver\": \"2.0\", \"TLS.identifier\": \(Self.jsonString(identifier)), "
            + "\"TLS.sdkappid\": \(sdkAppID), \"TLS.expire\": \(expire), \"TLS.time\": \(time), "
        if let userbuf { json += "\"TLS.userbuf\": \(Self.jsonString(userbuf)), " }
        json += "\"TLS.sig\": \(Self.jsonString(sig))}"
        return TencentBase64.encode(Zlib.compress(Data(json.utf8)))
    }

    // MARK: Decoding and verifying

    /// Decodes the string into its claims without checking the signature.
    public static func decode(_ string: String) throws(UserSigError) -> UserSig {
        guard !string.isEmpty else { throw .malformed("empty") }
        guard let compressed = TencentBase64.decode(string) else { throw .malformed("not base64") }
        guard let json = Zlib.uncompress(compressed) else { throw .malformed("not a zlib stream") }
        guard let object = try? JSONSerialization.jsonObject(with: json) as? [String: Any] else {
            throw .malformed("not a JSON object")
        }
        guard let version = object["TLS.ver"] as? String, version == "2.0" else { throw .malformed("unsupported TLS.ver") }
        guard let identifier = object["TLS.identifier"] as? String else { throw .malformed("missing TLS.identifier") }
        guard let sdkAppID = integer(object["TLS.sdkappid"]) else { throw .malformed("TLS.sdkappid missing or not an integer") }
        guard let time = integer(object["TLS.time"]) else { throw .malformed("TLS.time missing or not an integer") }
        guard let expire = integer(object["TLS.expire"]) else { throw .malformed("TLS.expire missing or not an integer") }
        guard let sig = object["TLS.sig"] as? String else { throw .malformed("missing TLS.sig") }
        let userbuf = object["TLS.userbuf"] as? String
        return UserSig(identifier: identifier, sdkAppID: sdkAppID, time: time, expire: expire, sig: sig, userbuf: userbuf)
    }

    /// Checks a UserSig the way Tencent does: decode, identifier, sdkappid,
    /// expiry (`now > time + expire`), then the HMAC in constant time.
    @discardableResult
    public static func verify(
        _ string: String, identifier: String, sdkAppID: Int, secretKey: String, now: Date = Date()
    ) throws(UserSigError) -> UserSig {
        let claims = try decode(string)
        // Byte comparison: String's == would accept canonically equivalent spellings.
        guard claims.identifier.utf8.elementsEqual(identifier.utf8) else { throw .wrongIdentifier }
        guard claims.sdkAppID == sdkAppID else { throw .wrongSDKAppID }
        guard unixSeconds(now) <= claims.expiresAt else { throw .expired }
        guard let mac = Data(base64Encoded: claims.sig) else { throw .malformed("TLS.sig not base64") }
        let content = signedContent(
            identifier: claims.identifier, sdkAppID: claims.sdkAppID,
            time: claims.time, expire: claims.expire, userbuf: claims.userbuf)
        // isValidAuthenticationCode compares in constant time.
        guard HMAC<SHA256>.isValidAuthenticationCode(
            mac, authenticating: Data(content.utf8), using: SymmetricKey(data: Data(secretKey.utf8)))
        else { throw .badSignature }
        return claims
    }

    // MARK: Helpers

    static func unixSeconds(_ date: Date) -> Int {
        Int(date.timeIntervalSince1970.rounded(.down))
    }

    /// JSON numbers arrive as NSNumber; older generators wrote numeric strings.
    private static func integer(_ value: Any?) -> Int? {
        if let string = value as? String { return Int(string) }
        if let number = value as? NSNumber {
            return Int(exactly: number.doubleValue)
        }
        return nil
    }
}

extension UserSig: CustomStringConvertible {
    /// Claims only; the HMAC is a credential and is left out.
    public var description: String {
        "UserSig(identifier: \(identifier), sdkappid: \(sdkAppID), time: \(time), expire: \(expire))"
    }
}
