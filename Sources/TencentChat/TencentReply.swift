/// A decoded Tencent answer (HTTP 200 with a JSON body), successful or not.
public struct TencentReply: Sendable, Equatable {
    /// `OK` or `FAIL`.
    public var actionStatus: String
    public var errorCode: Int
    public var errorInfo: String
    /// What to do about `errorCode`.
    public var errorClass: TencentErrorClass
    /// `multiaccount_import`: the UserIDs that were not imported.
    public var failAccounts: [String]
    /// `account_check` / `account_delete`: one result per UserID.
    public var resultItems: [AccountResult]

    public init(
        actionStatus: String, errorCode: Int, errorInfo: String,
        failAccounts: [String] = [], resultItems: [AccountResult] = []
    ) {
        self.actionStatus = actionStatus
        self.errorCode = errorCode
        self.errorInfo = errorInfo
        // "OK" with a non-zero code, or "FAIL" with 0, is not a success.
        let okAndZero = actionStatus == "OK" && errorCode == 0
        self.errorClass = okAndZero ? .success : (errorCode == 0 ? .transient : TencentErrorClass.classify(errorCode))
        self.failAccounts = failAccounts
        self.resultItems = resultItems
    }

    public var isSuccess: Bool { errorClass == .success }
}
