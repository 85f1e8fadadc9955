/// The account APIs the sandbox serves, under `/v4/im_open_login_svc/`.
public enum SandboxAPI: String, Sendable, CaseIterable, Codable {
    case accountImport = "account_import"
    case multiaccountImport = "multiaccount_import"
    case accountCheck = "account_check"
    case accountDelete = "account_delete"

    public static let service = "im_open_login_svc"

    /// Tencent's documented calls per second, per app.
    public var defaultRate: Int {
        switch self {
        case .accountImport: 200
        case .multiaccountImport, .accountCheck, .accountDelete: 100
        }
    }

    public static var defaultRates: [SandboxAPI: Int] {
        Dictionary(uniqueKeysWithValues: allCases.map { ($0, $0.defaultRate) })
    }
}
