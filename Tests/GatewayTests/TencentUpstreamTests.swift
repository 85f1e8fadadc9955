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

    @Test func badGatewayIsATransportFailure() async throws {
        let reply = try await upstream(502, "<html>bad gateway</html>").importAccount(account, updatingProfile: true)
        #expect(reply.api == .multiaccountImport)
        guard case .transport = reply.result else { Issue.record("\(reply.result)"); return }
    }

    @Test func anAccountListedInFailAccountsIsRetried() async throws {
        let reply = try await upstream(200, #"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","FailAccounts":["u1"]}"#)
            .importAccount(account, updatingProfile: true)
        guard case .transport = reply.result else { Issue.record("\(reply.result)"); return }
    }
}
