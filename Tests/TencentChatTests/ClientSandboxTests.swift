import Foundation
import Testing
import TencentChat
import TencentSandbox

/// The real client against the real sandbox, in-process: every UserSig the
/// client makes must pass the sandbox's verification.
@Suite struct ClientSandboxTests {
    let clock = TestClock()

    func client(
        for sandbox: SandboxService, secretKey: String = Fixture.secretKey, identifier: String = Fixture.admin,
        validity: Int = UserSig.defaultExpire, clock: TestClock? = nil
    ) throws -> TencentClient {
        let signature = AdminSignature(
            sdkAppID: Fixture.sdkAppID, identifier: identifier, secretKey: secretKey,
            validity: validity, now: (clock ?? self.clock).function)
        return TencentClient(
            endpoint: try TencentEndpoint(parsing: "http://127.0.0.1:9090"), signature: signature,
            transport: SandboxTransport(handler: sandbox.handler), logger: Fixture.logger)
    }

    @Test func importThenCheck() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        let client = try client(for: sandbox)

        let imported = try await client.accountImport(userID: "alice", nick: "Alice", faceURL: "https://img.test/a.png?s=1&t=2")
        #expect(imported.isSuccess)
        #expect(sandbox.account("alice")?.faceURL == "https://img.test/a.png?s=1&t=2")

        let batch = try await client.multiaccountImport([
            ImportAccount(userID: "bob"), ImportAccount(userID: "carol", nick: "C"),
            ImportAccount(userID: String(repeating: "z", count: 40)),
        ])
        #expect(batch.isSuccess)
        #expect(batch.failAccounts == [String(repeating: "z", count: 40)])

        let check = try await client.accountCheck(["alice", "bob", "dave"])
        #expect(check.resultItems.map(\.accountStatus) == [.imported, .imported, .notImported])
    }

    @Test func repeatedImportIsSafe() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        let client = try client(for: sandbox)
        for _ in 1...3 {
            #expect(try await client.accountImport(userID: "alice").isSuccess)
        }
        #expect(sandbox.account("alice")?.importCount == 3)
        #expect(sandbox.stats().accounts == 1)
    }

    @Test func misconfigurationsAreClassified() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        let wrongKey = try await client(for: sandbox, secretKey: "wrong").accountImport(userID: "a")
        #expect(wrongKey.errorCode == 70009)
        #expect(wrongKey.errorClass == .misconfiguration)
        let notAdmin = try await client(for: sandbox, identifier: "alice").accountImport(userID: "a")
        #expect(notAdmin.errorCode == 70403)
        #expect(notAdmin.errorClass == .misconfiguration)
    }

    @Test func validationErrorsArePermanent() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        let client = try client(for: sandbox)
        let tooLong = try await client.accountImport(userID: "a", nick: String(repeating: "n", count: 501))
        #expect(tooLong.errorCode == 40601)
        #expect(tooLong.errorClass == .permanent)
        let badID = try await client.accountImport(userID: String(repeating: "x", count: 33))
        #expect(badID.errorCode == 70402)
        #expect(badID.errorClass == .permanent)
    }

    @Test func expiredSignatureIsRenewedAgainstTheSandbox() async throws {
        // The sandbox's clock runs 150 s ahead of the client's: the cached
        // 200-second signature is expired there, a fresh one is not.
        let clientClock = TestClock()
        let sandboxClock = TestClock(clientClock.now.addingTimeInterval(150))
        let sandbox = Fixture.sandbox(clock: sandboxClock)
        let client = try client(for: sandbox, validity: 200, clock: clientClock)
        _ = client.signature.current()
        clientClock.advance(by: 60)
        sandboxClock.advance(by: 60)

        let expired = try await client.accountImport(userID: "alice")
        #expect(expired.errorClass == .renewSignature)
        // The caller repeats the call (with a slot of its own); it signs anew.
        let reply = try await client.accountImport(userID: "alice")
        #expect(reply.isSuccess)
        #expect(client.signature.signaturesMade == 2)
        #expect(sandbox.stats().answers == [70001: 1, 0: 1])
    }

    @Test func rateLimitIsReportedAsSuch() async throws {
        let sandbox = Fixture.sandbox(clock: clock) { $0.rates[.accountImport] = 2 }
        let client = try client(for: sandbox)
        let replies = try await [
            client.accountImport(userID: "a"), client.accountImport(userID: "b"), client.accountImport(userID: "c"),
        ]
        #expect(replies.map(\.errorClass) == [.success, .success, .rateLimited])
    }

    @Test func http502BecomesATransportError() async throws {
        let sandbox = Fixture.sandbox(clock: clock) { $0.http502Rate = 1 }
        await #expect(throws: TencentClientError.httpStatus(502)) {
            try await client(for: sandbox).accountImport(userID: "a")
        }
    }

    @Test func injectedErrorsAreTransient() async throws {
        let sandbox = Fixture.sandbox(clock: clock) { $0.errorRate = 1; $0.errorCodes = [70500] }
        let reply = try await client(for: sandbox).accountImport(userID: "a")
        #expect(reply.errorCode == 70500)
        #expect(reply.errorClass == .transient)
        #expect(sandbox.account("a") == nil)
    }

    @Test func specialCharactersSurviveTheURL() async throws {
        // An admin identifier that needs percent-encoding still verifies.
        let identifier = "ops admin+1"
        let sandbox = Fixture.sandbox(clock: clock) { $0.adminIdentifiers = [identifier] }
        let reply = try await client(for: sandbox, identifier: identifier).accountImport(userID: "a")
        #expect(reply.isSuccess)
    }
}
