/// One `ResultItem` of `account_check` (with `AccountStatus`) or `account_delete` (without).
public struct AccountResult: Sendable, Equatable, Decodable {
    public var userID: String
    public var resultCode: Int
    public var resultInfo: String
    public var accountStatus: AccountStatus?

    public init(userID: String, resultCode: Int = 0, resultInfo: String = "", accountStatus: AccountStatus? = nil) {
        self.userID = userID
        self.resultCode = resultCode
        self.resultInfo = resultInfo
        self.accountStatus = accountStatus
    }

    enum CodingKeys: String, CodingKey {
        case userID = "UserID"
        case resultCode = "ResultCode"
        case resultInfo = "ResultInfo"
        case accountStatus = "AccountStatus"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        userID = try container.decode(String.self, forKey: .userID)
        resultCode = try container.decodeIfPresent(Int.self, forKey: .resultCode) ?? 0
        resultInfo = try container.decodeIfPresent(String.self, forKey: .resultInfo) ?? ""
        // An unknown status reads as nil rather than failing the whole answer.
        accountStatus = (try? container.decodeIfPresent(String.self, forKey: .accountStatus)).flatMap(AccountStatus.init(rawValue:))
    }
}

public enum AccountStatus: String, Sendable, Equatable {
    case imported = "Imported"
    case notImported = "NotImported"
}
