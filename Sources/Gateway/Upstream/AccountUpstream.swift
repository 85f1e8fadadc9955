import Foundation

/// What the gateway needs from Tencent. The real one is `TencentUpstream`;
/// tests may use the sandbox in-process or a fake.
public protocol AccountUpstream: Sendable {
    /// Imports one account. `updatingProfile` asks for multiaccount_import, the
    /// API that also updates Nick/FaceUrl of an account Tencent already has.
    func importAccount(_ account: UpstreamAccount, updatingProfile: Bool) async -> UpstreamReply

    /// Imports up to 100 accounts in one multiaccount_import call (creating or
    /// updating profiles); those Tencent lists in FailAccounts are in `failed`.
    func importAccounts(_ accounts: [UpstreamAccount]) async -> UpstreamBatchReply

    /// Asks (account_check) whether Tencent has these 1–100 chat account IDs.
    func checkAccounts(_ chatUserIDs: [String]) async -> UpstreamCheckReply
}

public struct UpstreamCheckReply: Sendable, Equatable {
    /// The call's own result.
    public var result: UpstreamReply.Result
    /// Chat account IDs Tencent answered `Imported` for, and `NotImported` for; the
    /// others had an error of their own or no answer.
    public var imported: Set<String>
    public var notImported: Set<String>

    public init(result: UpstreamReply.Result, imported: Set<String> = [], notImported: Set<String> = []) {
        self.result = result
        self.imported = imported
        self.notImported = notImported
    }
}

public struct UpstreamBatchReply: Sendable, Equatable {
    /// The call's own result; `.ok` even when some accounts failed.
    public var result: UpstreamReply.Result
    /// Chat account IDs Tencent did not import.
    public var failed: Set<String>
    public var latency: Duration

    public init(result: UpstreamReply.Result, failed: Set<String>, latency: Duration) {
        self.result = result
        self.failed = failed
        self.latency = latency
    }
}

public struct UpstreamAccount: Sendable, Equatable {
    public var chatUserID: String
    public var nick: String?
    public var faceURL: String?

    public init(chatUserID: String, nick: String?, faceURL: String?) {
        self.chatUserID = chatUserID
        self.nick = nick
        self.faceURL = faceURL
    }
}

public struct UpstreamReply: Sendable, Equatable {
    public enum API: String, Sendable {
        case accountImport = "account_import"
        case multiaccountImport = "multiaccount_import"
        case accountCheck = "account_check"
    }

    public enum Result: Sendable, Equatable {
        case ok
        /// Tencent answered with a non-zero ErrorCode.
        case tencent(code: Int, info: String)
        /// An HTTP status other than 200: 5xx from Tencent's edge, or 3xx/4xx from a
        /// wrong base URL or a proxy.
        case httpStatus(Int)
        /// No usable answer: network error, timeout, undecodable body.
        case transport(String)
        /// multiaccount_import succeeded as a call but listed this account in
        /// `FailAccounts`, which carries no reason.
        case listedInFailAccounts
    }

    public var api: API
    public var result: Result
    public var latency: Duration

    public init(api: API, result: Result, latency: Duration) {
        self.api = api
        self.result = result
        self.latency = latency
    }
}
