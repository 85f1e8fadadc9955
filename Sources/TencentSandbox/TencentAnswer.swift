import Foundation

/// A Tencent answer body, field names as Tencent sends them.
struct TencentAnswer: Encodable, Equatable {
    var ActionStatus: String
    var ErrorCode: Int
    var ErrorInfo: String
    var FailAccounts: [String]? = nil
    var ResultItem: [Item]? = nil

    struct Item: Encodable, Equatable {
        var UserID: String
        var ResultCode: Int
        var ResultInfo: String
        var AccountStatus: String? = nil
    }

    static let ok = TencentAnswer(ActionStatus: "OK", ErrorCode: 0, ErrorInfo: "")

    static func fail(_ failure: SandboxFailure) -> TencentAnswer {
        TencentAnswer(ActionStatus: "FAIL", ErrorCode: failure.code, ErrorInfo: failure.info)
    }
}
