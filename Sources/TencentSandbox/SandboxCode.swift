/// A Tencent error a test sets while the sandbox runs, to drive a path
/// that is hard to reach otherwise (`PUT /sandbox/code`,
/// `PUT /sandbox/accounts/{UserID}/code`). Never 0: clearing is a separate call.
public struct SandboxCode: Sendable, Equatable, Codable {
    public var code: Int
    public var info: String

    public init(code: Int, info: String) {
        self.code = code
        self.info = info
    }
}

/// The run-time codes now in force (`GET /sandbox/codes`).
public struct SandboxCodes: Sendable, Equatable, Codable {
    /// Answers every routed `/v4` call when set.
    public var forced: SandboxCode?
    /// Imports of these UserIDs fail with their code.
    public var accounts: [String: SandboxCode]

    public init(forced: SandboxCode? = nil, accounts: [String: SandboxCode] = [:]) {
        self.forced = forced
        self.accounts = accounts
    }
}
