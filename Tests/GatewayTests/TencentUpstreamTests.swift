import Foundation
import Testing
import TencentChat
@testable import Gateway

/// `TencentUpstream` over a scripted transport: what each kind of answer becomes.
@Suite struct TencentUpstreamTests {
    struct ScriptedTransport: TencentTransport {
        let status: Int
        let body: String

        func post(url: URL, body: Data, timeout: Duration) async throws -> (status: Int, body: Data) {
            (status, Data(self.body.utf8))
        }
    }

    func upstream(_ status: Int, _ body: String) throws -> TencentUpstream {
        TencentUpstream(client: TencentClient(
            endpoint: try TencentEndpoint(parsing: "http://127.0.0.1:1"),
            signature: AdminSignature(sdkAppID: 1_400_000_000, identifier: "administrator", secretKey: "k"),
            transport: ScriptedTransport(status: status, body: body), logger: TestLogger.make()))
    }

    let account = UpstreamAccount(chatUserID: "u1", nick: "N", faceURL: nil)

    @Test func okIsOK() async throws {
        let reply = try await upstream(200, #"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#).importAccount(account, updatingProfile: false)
        #expect(reply.result == .ok && reply.api == .accountImport)
    }

    @Test func failWithCodeZeroIsNeverSuccess() async throws {
        let reply = try await upstream(200, #"{"ActionStatus":"FAIL","ErrorCode":0,"ErrorInfo":""}"#).importAccount(account, updatingProfile: false)
        guard case .transport = reply.result else { Issue.record("took \(reply.result) for success"); return }
    }

    @Test func errorCodesAreKept() async throws {
        let reply = try await upstream(200, #"{"ActionStatus":"FAIL","ErrorCode":70398,"ErrorInfo":"quota"}"#).importAccount(account, updatingProfile: false)
        #expect(reply.result == .tencent(code: 70398, info: "quota"))
    }

    /// HTTP statuses are kept, so the policy can tell an edge failure (5xx) from a wrong base URL (3xx/4xx).
    @Test(arguments: [502, 404, 301])
    func httpStatusesAreKept(_ status: Int) async throws {
        let reply = try await upstream(status, "<html>not Tencent</html>").importAccount(account, updatingProfile: true)
        #expect(reply.api == .multiaccountImport)
        #expect(reply.result == .httpStatus(status))
        let batch = try await upstream(status, "<html>not Tencent</html>").importAccounts([account])
        #expect(batch.result == .httpStatus(status))
    }

    @Test func anAccountListedInFailAccountsIsSaidSo() async throws {
        let reply = try await upstream(200, #"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","FailAccounts":["u1"]}"#)
            .importAccount(account, updatingProfile: true)
        #expect(reply.result == .listedInFailAccounts)
    }
}
