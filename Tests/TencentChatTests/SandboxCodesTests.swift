import Foundation
import HTTPServer
import Testing
@testable import TencentSandbox

/// Run-time codes: per account (`setAccountCode`, `/sandbox/accounts/{UserID}/code`)
/// and app-wide (`setForcedCode`, `/sandbox/code`).
@Suite struct SandboxCodesTests {
    let clock = TestClock()

    func send(_ sandbox: SandboxService, _ command: String, _ body: String, userSig: String? = nil) async -> [String: Any] {
        clock.advance(by: 0.001)
        return Fixture.json(await sandbox.handle(Fixture.request(command, body: body, clock: clock, userSig: userSig)))
    }

    func inspect(_ sandbox: SandboxService, _ method: String, _ path: String, _ body: String = "") async -> HTTPResponse {
        await sandbox.handle(HTTPRequest(method: method, target: path, path: path, body: Array(body.utf8)))
    }

    // MARK: Per account

    @Test func accountCodeFailsThatAccountsImports() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        sandbox.setAccountCode("u1", code: 70398, info: "quota, for this one")
        let single = await send(sandbox, "account_import", #"{"UserID":"u1"}"#)
        #expect(single["ActionStatus"] as? String == "FAIL")
        #expect(single["ErrorCode"] as? Int == 70398)
        #expect(single["ErrorInfo"] as? String == "quota, for this one")
        #expect(sandbox.account("u1") == nil)
        #expect((await send(sandbox, "account_import", #"{"UserID":"u2"}"#))["ErrorCode"] as? Int == 0)

        let multi = await send(sandbox, "multiaccount_import", #"{"AccountList":[{"UserID":"u1"},{"UserID":"u3"}]}"#)
        #expect(multi["ErrorCode"] as? Int == 0)
        #expect(multi["FailAccounts"] as? [String] == ["u1"])
        #expect(sandbox.account("u1") == nil)
        #expect(sandbox.account("u3") != nil)

        sandbox.setAccountCode("u1", code: nil)
        #expect(sandbox.codes == SandboxCodes())
        #expect((await send(sandbox, "account_import", #"{"UserID":"u1"}"#))["ErrorCode"] as? Int == 0)
    }

    @Test func accountCodeAlsoFailsAnExistingAccount() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        _ = await send(sandbox, "account_import", #"{"UserID":"u1","Nick":"before"}"#)
        sandbox.setAccountCode("u1", code: 70169)
        let single = await send(sandbox, "account_import", #"{"UserID":"u1"}"#)
        #expect(single["ErrorCode"] as? Int == 70169)
        #expect(single["ErrorInfo"] as? String == SandboxService.accountCodeInfo)
        let multi = await send(sandbox, "multiaccount_import", #"{"AccountList":[{"UserID":"u1","Nick":"after"}]}"#)
        #expect(multi["FailAccounts"] as? [String] == ["u1"])
        #expect(sandbox.account("u1")?.nick == "before")
        #expect(sandbox.account("u1")?.importCount == 1)
    }

    @Test func accountCodeEndpoint() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        let put = await inspect(sandbox, "PUT", "/sandbox/accounts/u-1/code", #"{"code": 70399, "info": "deleted, say"}"#)
        #expect(put.status == 200)
        #expect(sandbox.codes.accounts == ["u-1": SandboxCode(code: 70399, info: "deleted, say")])
        let single = await send(sandbox, "account_import", #"{"UserID":"u-1"}"#)
        #expect(single["ErrorCode"] as? Int == 70399)
        #expect(single["ErrorInfo"] as? String == "deleted, say")

        #expect(await inspect(sandbox, "PUT", "/sandbox/accounts/u-2/code", #"{"code": 70402}"#).status == 200)
        #expect(sandbox.codes.accounts["u-2"] == SandboxCode(code: 70402, info: SandboxService.accountCodeInfo))

        let listed = await inspect(sandbox, "GET", "/sandbox/codes")
        #expect(listed.status == 200)
        #expect(try JSONDecoder().decode(SandboxCodes.self, from: Data(listed.body)) == sandbox.codes)
        let accounts = try #require(Fixture.json(listed)["accounts"] as? [String: [String: Any]])
        #expect(accounts["u-1"]?["code"] as? Int == 70399)
        #expect(accounts["u-1"]?["info"] as? String == "deleted, say")

        let delete = await inspect(sandbox, "DELETE", "/sandbox/accounts/u-1/code")
        #expect(delete.status == 200)
        #expect(sandbox.codes.accounts.keys.sorted() == ["u-2"])
        #expect((await send(sandbox, "account_import", #"{"UserID":"u-1"}"#))["ErrorCode"] as? Int == 0)
        // The account endpoint itself is unchanged.
        #expect(await inspect(sandbox, "GET", "/sandbox/accounts/u-1").status == 200)
    }

    @Test(arguments: [#"{"code": 0}"#, #"{"info": "x"}"#, #"{"code": "70399"}"#, "", "not json"])
    func badCodeBodiesAre400(_ body: String) async {
        let sandbox = Fixture.sandbox(clock: clock)
        #expect(await inspect(sandbox, "PUT", "/sandbox/accounts/u1/code", body).status == 400)
        #expect(await inspect(sandbox, "PUT", "/sandbox/code", body).status == 400)
        #expect(sandbox.codes == SandboxCodes())
    }

    @Test func codeEndpointsAllowOnlyTheirMethods() async {
        let sandbox = Fixture.sandbox(clock: clock)
        let get = await inspect(sandbox, "GET", "/sandbox/code")
        #expect(get.status == 405)
        #expect(get.headers["Allow"] == "PUT, DELETE")
        #expect(await inspect(sandbox, "POST", "/sandbox/accounts/u1/code", #"{"code": 1}"#).status == 405)
        #expect(await inspect(sandbox, "PUT", "/sandbox/codes", #"{"code": 1}"#).status == 405)
    }

    // MARK: App-wide

    @Test func forcedCodeAnswersEveryRoutedCallBeforeTheSignature() async throws {
        let sandbox = Fixture.sandbox(clock: clock) { $0.signatureFailureLimit = 2 }
        sandbox.setForcedCode(70050, info: "locked, say")
        let answer = await send(sandbox, "account_import", #"{"UserID":"u1"}"#)
        #expect(answer["ActionStatus"] as? String == "FAIL")
        #expect(answer["ErrorCode"] as? Int == 70050)
        #expect(answer["ErrorInfo"] as? String == "locked, say")
        // Before UserSig verification: a bad signature gets the forced code, and no failed check is counted.
        for _ in 1...5 {
            #expect((await send(sandbox, "multiaccount_import", #"{"AccountList":[{"UserID":"u2"}]}"#, userSig: "garbage"))["ErrorCode"] as? Int == 70050)
        }
        #expect((await send(sandbox, "account_check", "not even json"))["ErrorCode"] as? Int == 70050)
        // After routing: the method and path are still checked first.
        let get = await sandbox.handle(Fixture.request("account_import", body: "{}", clock: clock, method: "GET"))
        #expect(Fixture.code(get) == 60002)
        #expect(Fixture.code(await sandbox.handle(Fixture.request("kick_everyone", body: "{}", clock: clock))) == 60002)

        #expect(sandbox.account("u1") == nil && sandbox.account("u2") == nil)
        let stats = sandbox.stats()
        #expect(stats.calls == ["account_import": 1, "multiaccount_import": 5, "account_check": 1])
        #expect(stats.answers == [70050: 7, 60002: 2])

        sandbox.setForcedCode(nil)
        #expect((await send(sandbox, "account_import", #"{"UserID":"u1"}"#))["ErrorCode"] as? Int == 0)
    }

    @Test func forcedCodeEndpoint() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        #expect(await inspect(sandbox, "PUT", "/sandbox/code", #"{"code": 60007, "info": "busy"}"#).status == 200)
        #expect(sandbox.codes.forced == SandboxCode(code: 60007, info: "busy"))
        let answer = await send(sandbox, "account_delete", #"{"DeleteItem":[{"UserID":"u1"}]}"#)
        #expect(answer["ErrorCode"] as? Int == 60007)
        #expect(answer["ErrorInfo"] as? String == "busy")
        let listed = Fixture.json(await inspect(sandbox, "GET", "/sandbox/codes"))
        #expect((listed["forced"] as? [String: Any])?["code"] as? Int == 60007)

        #expect(await inspect(sandbox, "PUT", "/sandbox/code", #"{"code": 70500}"#).status == 200)
        #expect(sandbox.codes.forced == SandboxCode(code: 70500, info: SandboxService.forcedCodeInfo))
        #expect(await inspect(sandbox, "DELETE", "/sandbox/code").status == 200)
        #expect(sandbox.codes.forced == nil)
        #expect((await send(sandbox, "account_import", #"{"UserID":"u1"}"#))["ErrorCode"] as? Int == 0)
    }

    @Test func resetClearsBothKinds() async {
        let sandbox = Fixture.sandbox(clock: clock)
        sandbox.setForcedCode(70500)
        sandbox.setAccountCode("u1", code: 70398)
        #expect(await inspect(sandbox, "POST", "/sandbox/reset").status == 200)
        #expect(sandbox.codes == SandboxCodes())
        #expect((await send(sandbox, "account_import", #"{"UserID":"u1"}"#))["ErrorCode"] as? Int == 0)
    }
}
