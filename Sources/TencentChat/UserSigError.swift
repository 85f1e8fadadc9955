/// Why a UserSig was rejected. Carries no part of the signature itself.
public enum UserSigError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Not Tencent's Base64 variant, not zlib, not the expected JSON.
    case malformed(String)
    /// Made for another identifier than the one presented with it.
    case wrongIdentifier
    /// Made for another SDKAppID than the one presented with it.
    case wrongSDKAppID
    /// `now > time + expire`.
    case expired
    /// The HMAC does not match: another secret key, or tampered claims.
    case badSignature

    public var description: String {
        switch self {
        case .malformed(let reason): "malformed UserSig (\(reason))"
        case .wrongIdentifier: "UserSig was made for another identifier"
        case .wrongSDKAppID: "UserSig was made for another SDKAppID"
        case .expired: "UserSig has expired"
        case .badSignature: "UserSig signature does not match the secret key"
        }
    }
}
