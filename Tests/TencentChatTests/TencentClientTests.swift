import Foundation
import Testing
import TencentChat

@Suite struct TencentClientTests {
    let clock = TestClock()

    func client(_ transport: FakeTransport) throws -> TencentClient {
        let signature = AdminSignature(
            sdkAppID: Fixture.sdkAppID, identifier: Fixture.admin, secretKey: Fixture.secretKey, now: clock.function)
        return TencentClient(
            endpoint: try TencentEndpoint(parsing: "http://upstream.test:9090"), signature: signature,
            transport: transport, logger: Fixture.logger)
    }

    @Test func accountImportRequestShape() async throws {
        let transport = FakeTransport([FakeTransport.tencent(0)])
        let reply = try await client(transport).accountImport(userID: "u1", nick: "Nick", faceURL: "https://x.test/a.png")
        #expect(reply.isSuccess)

        let request = try #require(transport.requests.first)
        #expect(request.url.path == "/v4/im_open_login_svc/account_import")
        #expect(request.timeout == .seconds(6))
        let query = request.query
        #expect(query["sdkappid"] == String(Fixture.sdkAppID))
        #expect(query["identifier"] == Fixture.admin)
        #expect(query["contenttype"] == "json")
        #expect(UInt32(query["random"] ?? "") != nil)
        try UserSig.verify(query["usersig"] ?? "", identifier: Fixture.admin, sdkAppID: Fixture.sdkAppID, secretKey: Fixture.secretKey, now: clock.now)
        #expect(request.json["UserID"] as? String == "u1")
        #expect(request.json["Nick"] as? String == "Nick")
        #expect(request.json["FaceUrl"] as? String == "https://x.test/a.png")
    }

    @Test func optionalFieldsAreOmitted() async throws {
        let transport = FakeTransport([FakeTransport.tencent(0)])
        _ = try await client(transport).accountImport(userID: "u1")
        let request = try #require(transport.requests.first)
        #expect(String(decoding: request.body, as: UTF8.self) == #"{"UserID":"u1"}"#)
    }

    @Test func multiaccountImportShapeAndFailAccounts() async throws {
        let transport = FakeTransport([FakeTransport.reply(#"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","FailAccounts":["b"]}"#)])
        let reply = try await client(transport).multiaccountImport([
            ImportAccount(userID: "a", nick: "A"), ImportAccount(userID: "b"),
        ])
        #expect(reply.failAccounts == ["b"])
        let request = try #require(transport.requests.first)
        #expect(request.url.path == "/v4/im_open_login_svc/multiaccount_import")
        let list = try #require(request.json["AccountList"] as? [[String: Any]])
        #expect(list.count == 2)
        #expect(list[0]["Nick"] as? String == "A")
        #expect(list[1].keys.sorted() == ["UserID"])
    }

    @Test func accountCheckDecodesResultItems() async throws {
        let transport = FakeTransport([FakeTransport.reply(#"""
            {"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":"","ResultItem":[
              {"UserID":"a","ResultCode":0,"ResultInfo":"","AccountStatus":"Imported"},
              {"UserID":"b","ResultCode":0,"ResultInfo":"","AccountStatus":"NotImported"}]}
            """#)])
        let reply = try await client(transport).accountCheck(["a", "b"])
        #expect(reply.resultItems == [
            AccountResult(userID: "a", accountStatus: .imported),
            AccountResult(userID: "b", accountStatus: .notImported),
        ])
        let items = try #require(transport.requests.first?.json["CheckItem"] as? [[String: String]])
        #expect(items == [["UserID": "a"], ["UserID": "b"]])
    }

    @Test func batchSizesAreCheckedBeforeSending() async throws {
        let transport = FakeTransport([])
        let client = try client(transport)
        await #expect(throws: TencentClientError.self) { try await client.multiaccountImport([]) }
        await #expect(throws: TencentClientError.self) {
            try await client.accountCheck((0...100).map { "u\($0)" })
        }
        #expect(transport.requests.isEmpty)
        _ = try await client.accountCheck((1...100).map { "u\($0)" })
        #expect(transport.requests.count == 1)
    }

    /// The client signs anew but does not repeat the call itself: the caller does,
    /// with a slot of the central limit and an audit event of its own.
    @Test(arguments: [70001, 70052])
    func expiredSignatureIsDroppedAndTheCallNotRepeated(_ code: Int) async throws {
        let transport = FakeTransport([FakeTransport.tencent(code), FakeTransport.tencent(0)])
        let client = try client(transport)
        let reply = try await client.accountImport(userID: "u1")
        #expect(reply.errorCode == code)
        #expect(reply.errorClass == .renewSignature)
        #expect(transport.requests.count == 1)
        #expect(client.signature.signaturesMade == 1)

        let next = try await client.accountImport(userID: "u1")
        #expect(next.isSuccess)
        #expect(client.signature.signaturesMade == 2)  // made anew for the second call
        #expect(transport.requests.count == 2)
    }

    @Test func otherErrorsAreReturnedNotRetried() async throws {
        let transport = FakeTransport([FakeTransport.tencent(70500, info: "internal")])
        let reply = try await client(transport).accountImport(userID: "u1")
        #expect(reply.errorCode == 70500)
        #expect(reply.errorInfo == "internal")
        #expect(reply.errorClass == .transient)
        #expect(transport.requests.count == 1)
    }

    @Test func non200IsATransportLevelError() async throws {
        let transport = FakeTransport([FakeTransport.reply("<html>bad gateway</html>", status: 502)])
        await #expect(throws: TencentClientError.httpStatus(502)) {
            try await client(transport).accountImport(userID: "u1")
        }
        #expect(TencentClientError.httpStatus(502).errorClass == .transient)
    }

    @Test func undecodableBodyIsATransportLevelError() async throws {
        for body in ["", "not json", #"{"ErrorCode":0}"#] {
            let transport = FakeTransport([FakeTransport.reply(body)])
            await #expect {
                try await client(transport).accountImport(userID: "u1")
            } throws: { error in
                if case .undecodableBody = error as? TencentClientError { true } else { false }
            }
        }
    }

    @Test func networkErrorsPassThroughTyped() async throws {
        let transport = FakeTransport([.failure(.timedOut)])
        await #expect(throws: TencentClientError.transport(.timedOut)) {
            try await client(transport).accountImport(userID: "u1")
        }
    }

    @Test func errorsNeverCarryTheUserSig() async throws {
        let transport = FakeTransport([.failure(.cannotConnect("URLError -1004"))])
        let client = try client(transport)
        do {
            _ = try await client.accountImport(userID: "u1")
            Issue.record("expected a failure")
        } catch {
            let sig = try #require(transport.requests.first?.query["usersig"])
            #expect(!"\(error)".contains(sig))
            #expect(!"\(error)".contains(Fixture.secretKey))
        }
    }
}
