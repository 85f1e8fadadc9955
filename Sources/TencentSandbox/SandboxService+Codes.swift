import Foundation
import HTTPServer

/// Run-time codes: a test sets a Tencent error for one UserID's imports or
/// for every `/v4` call, to drive paths a healthy sandbox never takes.
/// `POST /sandbox/reset` clears them.
extension SandboxService {
    /// `ErrorInfo` when a code is set without one.
    public static let accountCodeInfo = "error set for this account by the sandbox"
    public static let forcedCodeInfo = "error forced by the sandbox"

    /// While `code` is set, account_import of `userID` answers it (nothing is
    /// imported) and multiaccount_import lists `userID` in `FailAccounts`. Nil clears.
    public func setAccountCode(_ userID: String, code: Int?, info: String = accountCodeInfo) {
        precondition(code != 0, "0 is success; clear with nil")
        state.withLock { $0.accountCodes[userID] = code.map { SandboxCode(code: $0, info: info) } }
        logger.info("sandbox account code changed", metadata: ["sandbox.user_id": "\(userID)", "sandbox.code": "\(code.map(String.init) ?? "none")"])
    }

    /// While `code` is set, every `/v4` call that passes routing answers it
    /// before its UserSig is checked, doing no work (still counted in stats). Nil clears.
    public func setForcedCode(_ code: Int?, info: String = forcedCodeInfo) {
        precondition(code != 0, "0 is success; clear with nil")
        state.withLock { $0.forcedCode = code.map { SandboxCode(code: $0, info: info) } }
        logger.info("sandbox forced code changed", metadata: ["sandbox.code": "\(code.map(String.init) ?? "none")"])
    }

    /// The run-time codes now in force.
    public var codes: SandboxCodes {
        state.withLock { SandboxCodes(forced: $0.forcedCode, accounts: $0.accountCodes) }
    }

    /// The body of `PUT /sandbox/code` and `PUT /sandbox/accounts/{UserID}/code`.
    private struct CodeRequest: Decodable {
        var code: Int
        var info: String?
    }

    /// `PUT` sets (`{"code": 70399, "info": "optional text"}`, code not 0), `DELETE` clears;
    /// both answer the codes now in force.
    func handleCode(_ request: HTTPRequest, set: (Int?, String?) -> Void) -> HTTPResponse {
        if request.method == "DELETE" {
            set(nil, nil)
        } else {
            guard let body = try? JSONDecoder().decode(CodeRequest.self, from: Data(request.body)), body.code != 0 else {
                return Self.json(status: 400, ["error": "expected {\"code\": non-zero integer, \"info\": optional string}"])
            }
            set(body.code, body.info)
        }
        return Self.json(status: 200, codes)
    }
}
