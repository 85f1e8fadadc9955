/// What the gateway should do with a Tencent answer (TENCENT.md's table).
public enum TencentErrorClass: String, Sendable, CaseIterable {
    /// Done.
    case success
    /// Call frequency exceeded: slow down for everyone, retry later.
    case rateLimited
    /// 70050, too many failed UserSig checks: stop calling for at least 60 s, alert.
    case signatureLockout
    /// Timeout or internal error (also HTTP 5xx and network errors): retry with backoff.
    case transient
    /// The admin UserSig expired or was invalidated: make a new one, retry once.
    case renewSignature
    /// Key, app, region, admin or IP allowlist is wrong: keep pending, alert operators.
    case misconfiguration
    /// Rejected for good (field too long, quota, invalid parameters): reject to the caller.
    case permanent
    /// Tencent could not parse the URL or JSON: a bug in the gateway, alert.
    case gatewayBug

    /// Whether repeating the same call later can succeed without a human.
    public var isRetryable: Bool {
        switch self {
        case .rateLimited, .signatureLockout, .transient, .renewSignature: true
        case .success, .misconfiguration, .permanent, .gatewayBug: false
        }
    }

    public static func classify(_ code: Int) -> TencentErrorClass {
        switch code {
        case 0:
            return .success
        case 60007, 60011, 60018, 60019:
            return .rateLimited
        case 70050:
            return .signatureLockout
        case 60008, 70169, 70202, 70500, 40006:
            return .transient
        case 70001, 70052:
            return .renewSignature
        case 60004, 60005, 60006, 60010, 60012, 60016, 60020, 60021,
             70003, 70005, 70009, 70013, 70014, 70016, 70020, 70403:
            return .misconfiguration
        case 40601, 70398, 70402, 70206:
            return .permanent
        case 60002, 60003:
            return .gatewayBug
        default:
            // An undocumented code is more likely a new internal error than a
            // verdict on the account; retrying with backoff is safe because
            // imports are idempotent, while rejecting could lose a good account.
            return .transient
        }
    }

    /// Classification of an HTTP status other than 200: Tencent answers 200
    /// unless its network path failed, so anything else is worth retrying.
    public static func classify(httpStatus: Int) -> TencentErrorClass {
        httpStatus == 200 ? .success : .transient
    }
}
