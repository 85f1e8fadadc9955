/// What the gateway does with a Tencent answer. Every class has an end: the
/// table in docs/UPSTREAM_ERRORS.md lists every documented code, its class and
/// what happens to the account (a test keeps the two in step).
public enum TencentErrorClass: String, Sendable, CaseIterable {
    /// Done.
    case success
    /// Call frequency exceeded: every API slows down on every replica, retry later.
    case rateLimited
    /// 70050, too many failed UserSig checks: no API is called for at least 60 s, alert.
    case signatureLockout
    /// Timeout or internal error (also HTTP 5xx and network errors): retry with backoff.
    case transient
    /// The admin UserSig expired or was invalidated: make a new one, retry (taking a slot like any call).
    case renewSignature
    /// Key, app, region, admin or IP allowlist is wrong, or the upstream answered
    /// HTTP 3xx/4xx (a wrong base URL): the circuit breaker opens, accounts stay pending, alert.
    case misconfiguration
    /// Rejected for good for this account (field too long, quota, invalid
    /// parameters, deleted account): the account ends `failed`, the caller gets 422.
    case permanent
    /// Tencent could not parse the URL or JSON: a bug in the gateway, alert; retried slowly.
    case gatewayBug
    /// A code Tencent does not document for these APIs: retried a bounded number
    /// of times (GATEWAY_MAX_UNEXPLAINED_ATTEMPTS), then the account ends `failed` with it.
    case undocumented

    /// Whether repeating the same call later can succeed without a human.
    public var isRetryable: Bool {
        switch self {
        case .rateLimited, .signatureLockout, .transient, .renewSignature, .undocumented: true
        case .success, .misconfiguration, .permanent, .gatewayBug: false
        }
    }

    /// The documented codes of the account APIs and their classes (TENCENT.md).
    public static let documented: [Int: TencentErrorClass] = {
        var table: [Int: TencentErrorClass] = [0: .success]
        for code in [60007, 60011, 60018, 60019] { table[code] = .rateLimited }
        table[70050] = .signatureLockout
        for code in [60008, 70169, 70202, 70500, 40006] { table[code] = .transient }
        for code in [70001, 70052] { table[code] = .renewSignature }
        for code in [60004, 60005, 60006, 60010, 60012, 60016, 60020, 60021,
                     70003, 70005, 70009, 70013, 70014, 70016, 70020, 70403] {
            table[code] = .misconfiguration
        }
        // 70399: the UserID was deleted and cannot be imported again for months.
        for code in [40601, 70398, 70399, 70402, 70206] { table[code] = .permanent }
        for code in [60002, 60003] { table[code] = .gatewayBug }
        return table
    }()

    public static func classify(_ code: Int) -> TencentErrorClass {
        // An undocumented code is neither retried forever (it may be a verdict on
        // the account) nor taken as final at once (it may be a new internal error).
        documented[code] ?? .undocumented
    }

    /// An HTTP status other than 200. Tencent answers 200 unless its network
    /// path failed (5xx: retry); a redirect or a client error means the request
    /// went to the wrong place (a wrong base URL, a proxy): misconfiguration.
    public static func classify(httpStatus: Int) -> TencentErrorClass {
        switch httpStatus {
        case 200: .success
        case 300..<500: .misconfiguration
        default: .transient
        }
    }
}
