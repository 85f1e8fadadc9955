import Foundation
import HTTPServer
import Synchronization
import Testing
import TencentChat
@testable import TencentSandbox

@Suite struct SandboxServiceTests {
    let clock = TestClock()

    func send(_ sandbox: SandboxService, _ command: String, _ body: String, advance: TimeInterval = 0.001,
              identifier: String = Fixture.admin, userSig: String? = nil) async -> HTTPResponse {
        clock.advance(by: advance)
        return await sandbox.handle(Fixture.request(command, body: body, clock: clock, identifier: identifier, userSig: userSig))
    }

    // MARK: Importing

    @Test func importCreatesTheAccount() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        let response = await send(sandbox, "account_import", #"{"UserID":"u1","Nick":"N","FaceUrl":"http://x/y.png"}"#)
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"]?.hasPrefix("application/json") == true)
        let json = Fixture.json(response)
        #expect(json["ActionStatus"] as? String == "OK")
        #expect(json["ErrorCode"] as? Int == 0)
        #expect(json["ErrorInfo"] as? String == "")
        let account = try #require(sandbox.account("u1"))
        #expect(account.nick == "N")
        #expect(account.faceURL == "http://x/y.png")
        #expect(account.importCount == 1)
    }

    @Test func repeatedImportCreatesNoSecondAccount() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        #expect(Fixture.code(await send(sandbox, "account_import", #"{"UserID":"u1","Nick":"old"}"#)) == 0)
        let first = try #require(sandbox.account("u1")).firstImportedAt
        #expect(Fixture.code(await send(sandbox, "account_import", #"{"UserID":"u1","Nick":"new","FaceUrl":"f"}"#, advance: 5)) == 0)
        let account = try #require(sandbox.account("u1"))
        #expect(account.importCount == 2)
        // account_import of an existing account changes no profile field (only multiaccount_import does).
        #expect(account.nick == "old")
        #expect(account.faceURL == nil)
        #expect(account.firstImportedAt == first)
        #expect(account.lastImportedAt == clock.now)
        let stats = sandbox.stats()
        #expect(stats.accounts == 1)
        #expect(stats.duplicateImports == 1)
    }

    @Test func multiaccountImportCreatesUpdatesAndReportsFailures() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        _ = await send(sandbox, "account_import", #"{"UserID":"old","Nick":"before"}"#)
        let long = String(repeating: "x", count: 33)
        let response = await send(sandbox, "multiaccount_import", """
            {"AccountList":[{"UserID":"old","Nick":"after"},{"UserID":"new"},{"UserID":"\(long)"}]}
            """)
        let json = Fixture.json(response)
        #expect(json["ErrorCode"] as? Int == 0)
        #expect(json["FailAccounts"] as? [String] == [long])
        #expect(sandbox.account("old")?.nick == "after")
        #expect(sandbox.account("new") != nil)
        #expect(sandbox.stats().accounts == 2)

        // The older form: a list of UserIDs.
        #expect(Fixture.code(await send(sandbox, "multiaccount_import", #"{"Accounts":["a","b"]}"#)) == 0)
        #expect(sandbox.stats().accounts == 4)
    }

    @Test func multiaccountImportFailsOnlyTheInvalidItems() async throws {
        let sandbox = Fixture.sandbox(clock: clock) { $0.accountQuota = 5 }
        _ = await send(sandbox, "account_import", #"{"UserID":"gone"}"#)
        _ = await send(sandbox, "account_delete", #"{"DeleteItem":[{"UserID":"gone"}]}"#)
        _ = await send(sandbox, "account_import", #"{"UserID":"old","Nick":"before","FaceUrl":"f"}"#)
        let long = String(repeating: "é", count: 250) + "x"  // 501 bytes
        let response = await send(sandbox, "multiaccount_import", """
            {"AccountList":[
              {"UserID":"ok1"}, {"UserID":"nick","Nick":"\(long)"}, {"UserID":"face","FaceUrl":"\(long)"},
              {"UserID":"gone"}, {"UserID":""}, {"UserID":"\(String(repeating: "x", count: 33))"},
              {"UserID":"typed","Nick":5}, {"UserID":"old","Nick":"after"}, {"UserID":"ok2","Nick":null},
              {"UserID":"ok3"}, {"UserID":"over"}, {"UserID":"over2"}
            ]}
            """)
        let json = Fixture.json(response)
        #expect(json["ActionStatus"] as? String == "OK")
        #expect(json["ErrorCode"] as? Int == 0)
        // Quota 5: old, ok1, ok2, ok3 fill four; over takes the fifth, over2 finds it full.
        #expect(json["FailAccounts"] as? [String] == ["nick", "face", "gone", "", String(repeating: "x", count: 33), "typed", "over2"])
        for userID in ["ok1", "ok2", "ok3", "over"] { #expect(sandbox.account(userID) != nil) }
        for userID in ["nick", "face", "gone", "typed", "over2"] { #expect(sandbox.account(userID) == nil) }
        // multiaccount_import updates the profile fields it is given, and keeps the others.
        #expect(sandbox.account("old")?.nick == "after")
        #expect(sandbox.account("old")?.faceURL == "f")
        #expect(sandbox.stats().accounts == 5)
        // Only an item without a string UserID makes the whole body malformed.
        #expect(Fixture.code(await send(sandbox, "multiaccount_import", #"{"AccountList":[{"UserID":"a"},{"Nick":"n"}]}"#)) == 70402)
        #expect(Fixture.code(await send(sandbox, "multiaccount_import", #"{"AccountList":[{"UserID":"a"},{"UserID":7}]}"#)) == 70402)
    }

    @Test func deletedAccountsCannotBeImportedAgain() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        _ = await send(sandbox, "multiaccount_import", #"{"AccountList":[{"UserID":"a"},{"UserID":"b"},{"UserID":"c"}]}"#)
        let delete = Fixture.json(await send(sandbox, "account_delete", #"{"DeleteItem":[{"UserID":"a"},{"UserID":"b"}]}"#))
        #expect((delete["ResultItem"] as? [[String: Any]])?.map { $0["ResultCode"] as? Int } == [0, 0])
        #expect(sandbox.account("a") == nil && sandbox.account("b") == nil)
        #expect(sandbox.stats().accounts == 1)
        let check = Fixture.json(await send(sandbox, "account_check", #"{"CheckItem":[{"UserID":"a"},{"UserID":"c"}]}"#))
        #expect((check["ResultItem"] as? [[String: Any]])?.map { $0["AccountStatus"] as? String } == ["NotImported", "Imported"])

        let again = Fixture.json(await send(sandbox, "account_import", #"{"UserID":"a"}"#))
        #expect(again["ActionStatus"] as? String == "FAIL")
        #expect(again["ErrorCode"] as? Int == 70399)
        #expect(again["ErrorInfo"] as? String == "account was deleted and cannot be imported again yet")
        let multi = Fixture.json(await send(sandbox, "multiaccount_import", #"{"AccountList":[{"UserID":"a"},{"UserID":"b"},{"UserID":"d"}]}"#))
        #expect(multi["ErrorCode"] as? Int == 0)
        #expect(multi["FailAccounts"] as? [String] == ["a", "b"])
        let older = Fixture.json(await send(sandbox, "multiaccount_import", #"{"Accounts":["b","e"]}"#))
        #expect(older["FailAccounts"] as? [String] == ["b"])
        #expect(sandbox.account("a") == nil && sandbox.account("b") == nil)
        #expect(sandbox.account("d") != nil && sandbox.account("e") != nil)

        sandbox.reset()
        #expect(Fixture.code(await send(sandbox, "account_import", #"{"UserID":"a"}"#)) == 0)
    }

    @Test func accountCheckAndDelete() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        _ = await send(sandbox, "account_import", #"{"UserID":"here"}"#)
        let check = Fixture.json(await send(sandbox, "account_check", #"{"CheckItem":[{"UserID":"here"},{"UserID":"gone"}]}"#))
        let items = try #require(check["ResultItem"] as? [[String: Any]])
        #expect(items.map { $0["UserID"] as? String } == ["here", "gone"])
        #expect(items.map { $0["AccountStatus"] as? String } == ["Imported", "NotImported"])
        #expect(items.map { $0["ResultCode"] as? Int } == [0, 0])

        let delete = Fixture.json(await send(sandbox, "account_delete", #"{"DeleteItem":[{"UserID":"here"},{"UserID":"gone"}]}"#))
        let deleted = try #require(delete["ResultItem"] as? [[String: Any]])
        #expect(deleted.map { $0["ResultCode"] as? Int } == [0, 70107])
        #expect(sandbox.account("here") == nil)
    }

    @Test func accountQuota() async {
        let sandbox = Fixture.sandbox(clock: clock) { $0.accountQuota = 1 }
        #expect(Fixture.code(await send(sandbox, "account_import", #"{"UserID":"a"}"#)) == 0)
        #expect(Fixture.code(await send(sandbox, "account_import", #"{"UserID":"a"}"#)) == 0)  // existing: fine
        #expect(Fixture.code(await send(sandbox, "account_import", #"{"UserID":"b"}"#)) == 70398)
        let multi = Fixture.json(await send(sandbox, "multiaccount_import", #"{"AccountList":[{"UserID":"a"},{"UserID":"c"}]}"#))
        #expect(multi["FailAccounts"] as? [String] == ["c"])
    }

    // MARK: Validation

    @Test(arguments: [
        (#"{"UserID":""}"#, 70402),
        (#"{"UserID":"123456789012345678901234567890123"}"#, 70402),
        (#"{"UserID":12}"#, 70402),
        (#"{"Nick":"n"}"#, 70402),
        (#"{"UserID":"u","Nick":5}"#, 70402),
        (#"{"UserID":"12345678901234567890123456789012"}"#, 0),
        (#"{"UserID":"u","Nick":null}"#, 0),
        ("", 60003),
        ("not json", 60003),
        ("[1]", 60003),
    ])
    func accountImportValidation(_ body: String, _ expected: Int) async {
        let sandbox = Fixture.sandbox(clock: clock)
        #expect(Fixture.code(await send(sandbox, "account_import", body)) == expected)
    }

    @Test func profileFieldsOver500BytesAre40601() async {
        let sandbox = Fixture.sandbox(clock: clock)
        let ok = String(repeating: "é", count: 250)  // 500 bytes
        let tooLong = ok + "x"
        #expect(Fixture.code(await send(sandbox, "account_import", #"{"UserID":"a","Nick":"\#(ok)","FaceUrl":"\#(ok)"}"#)) == 0)
        #expect(Fixture.code(await send(sandbox, "account_import", #"{"UserID":"b","Nick":"\#(tooLong)"}"#)) == 40601)
        #expect(Fixture.code(await send(sandbox, "account_import", #"{"UserID":"c","FaceUrl":"\#(tooLong)"}"#)) == 40601)
        #expect(sandbox.account("b") == nil)
    }

    @Test func batchSizesAre70206() async {
        let sandbox = Fixture.sandbox(clock: clock)
        let hundredOne = (0...100).map { #"{"UserID":"u\#($0)"}"# }.joined(separator: ",")
        let hundred = (1...100).map { #"{"UserID":"u\#($0)"}"# }.joined(separator: ",")
        #expect(Fixture.code(await send(sandbox, "multiaccount_import", #"{"AccountList":[]}"#)) == 70206)
        #expect(Fixture.code(await send(sandbox, "multiaccount_import", #"{"AccountList":[\#(hundredOne)]}"#)) == 70206)
        #expect(Fixture.code(await send(sandbox, "multiaccount_import", #"{"AccountList":[\#(hundred)]}"#)) == 0)
        #expect(Fixture.code(await send(sandbox, "account_check", #"{"CheckItem":[]}"#)) == 70206)
        #expect(Fixture.code(await send(sandbox, "account_check", #"{"CheckItem":[\#(hundredOne)]}"#)) == 70206)
        #expect(Fixture.code(await send(sandbox, "account_delete", #"{"DeleteItem":[]}"#)) == 70206)
        #expect(Fixture.code(await send(sandbox, "multiaccount_import", #"{"Nothing":[]}"#)) == 70402)
        #expect(Fixture.code(await send(sandbox, "account_check", #"{"CheckItem":[{"Nope":1}]}"#)) == 70402)
    }

    // MARK: URL and signature checks

    @Test func queryParameterChecks() async {
        let sandbox = Fixture.sandbox(clock: clock)
        let body = #"{"UserID":"u"}"#
        func code(_ request: HTTPRequest) async -> Int? { Fixture.code(await sandbox.handle(request)) }

        #expect(await code(Fixture.request("account_import", body: body, clock: clock, sdkAppID: "")) == 60012)
        #expect(await code(Fixture.request("account_import", body: body, clock: clock, sdkAppID: "abc")) == 60012)
        #expect(await code(Fixture.request("account_import", body: body, clock: clock, identifier: "", userSig: "x")) == 60004)
        #expect(await code(Fixture.request("account_import", body: body, clock: clock, userSig: "")) == 60004)
        for random in ["", "-1", "4294967296", "1.5", "+7", "x"] {
            #expect(await code(Fixture.request("account_import", body: body, clock: clock, random: random)) == 60002)
        }
        #expect(await code(Fixture.request("account_import", body: body, clock: clock, random: "4294967295")) == 0)
        #expect(await code(Fixture.request("account_import", body: body, clock: clock, contenttype: "xml")) == 60002)
        #expect(await code(Fixture.request("account_import", body: body, clock: clock, sdkAppID: "1400000001")) == 70020)
        #expect(sandbox.stats().accounts == 1)
    }

    @Test func methodAndRoute() async {
        let sandbox = Fixture.sandbox(clock: clock)
        let get = await sandbox.handle(Fixture.request("account_import", body: "{}", clock: clock, method: "GET"))
        #expect(get.status == 200)
        #expect(Fixture.code(get) == 60002)
        let unknown = await sandbox.handle(Fixture.request("kick_everyone", body: "{}", clock: clock))
        #expect(unknown.status == 200)
        #expect(Fixture.code(unknown) == 60002)
        #expect(Fixture.json(unknown)["ActionStatus"] as? String == "FAIL")
        #expect(Fixture.code(await sandbox.handle(Fixture.request("account_import", body: "{}", clock: clock, service: "other_svc"))) == 60002)
        let outside = await sandbox.handle(HTTPRequest(method: "GET", target: "/", path: "/"))
        #expect(outside.status == 404)
    }

    @Test func signatureErrorCodes() async {
        let sandbox = Fixture.sandbox(clock: clock)
        let body = #"{"UserID":"u"}"#
        let admin = Fixture.admin
        let key = Fixture.secretKey
        let id = Fixture.sdkAppID

        let expired = UserSig.generate(identifier: admin, sdkAppID: id, secretKey: key, expire: 60, now: clock.now.addingTimeInterval(-61))
        #expect(Fixture.code(await send(sandbox, "account_import", body, userSig: expired)) == 70001)
        #expect(Fixture.code(await send(sandbox, "account_import", body, userSig: "garbage")) == 70003)
        let wrongKey = UserSig.generate(identifier: admin, sdkAppID: id, secretKey: "not-the-key", now: clock.now)
        #expect(Fixture.code(await send(sandbox, "account_import", body, userSig: wrongKey)) == 70009)
        let otherUser = UserSig.generate(identifier: "someone", sdkAppID: id, secretKey: key, now: clock.now)
        #expect(Fixture.code(await send(sandbox, "account_import", body, userSig: otherUser)) == 70013)
        let otherApp = UserSig.generate(identifier: admin, sdkAppID: id + 1, secretKey: key, now: clock.now)
        #expect(Fixture.code(await send(sandbox, "account_import", body, userSig: otherApp)) == 70014)
        #expect(sandbox.stats().accounts == 0)
        #expect(sandbox.stats().answers == [70001: 1, 70003: 1, 70009: 1, 70013: 1, 70014: 1])
    }

    @Test func nonAdminIsRejected() async {
        let sandbox = Fixture.sandbox(clock: clock)
        let response = await send(sandbox, "account_import", #"{"UserID":"u"}"#, identifier: "alice")
        #expect(Fixture.code(response) == 70403)
        let configured = Fixture.sandbox(clock: clock) { $0.adminIdentifiers = ["alice"] }
        #expect(Fixture.code(await send(configured, "account_import", #"{"UserID":"u"}"#, identifier: "alice")) == 0)
    }

    @Test func repeatedSignatureFailuresLockTheIdentifierOut() async {
        let sandbox = Fixture.sandbox(clock: clock) { $0.signatureFailureLimit = 3 }
        let body = #"{"UserID":"u"}"#
        let bad = UserSig.generate(identifier: Fixture.admin, sdkAppID: Fixture.sdkAppID, secretKey: "wrong", now: clock.now)
        for _ in 1...3 {
            #expect(Fixture.code(await send(sandbox, "account_import", body, advance: 1, userSig: bad)) == 70009)
        }
        #expect(Fixture.code(await send(sandbox, "account_import", body, advance: 1, userSig: bad)) == 70050)
        // Locked: even a good signature is refused for the lockout period.
        #expect(Fixture.code(await send(sandbox, "account_import", body, advance: 59)) == 70050)
        #expect(Fixture.code(await send(sandbox, "account_import", body, advance: 1)) == 0)
    }

    @Test func failuresOutsideTheWindowDoNotAccumulate() async {
        let sandbox = Fixture.sandbox(clock: clock) { $0.signatureFailureLimit = 3 }
        let bad = "garbage"
        for _ in 1...10 {
            #expect(Fixture.code(await send(sandbox, "account_import", #"{"UserID":"u"}"#, advance: 30, userSig: bad)) == 70003)
        }
    }

    // MARK: Rate limits

    @Test func slidingWindowRateLimit() async {
        let sandbox = Fixture.sandbox(clock: clock) { $0.rates[.accountImport] = 5 }
        func importAt(_ advance: TimeInterval) async -> Int? {
            Fixture.code(await send(sandbox, "account_import", #"{"UserID":"u"}"#, advance: advance))
        }
        for _ in 1...5 { #expect(await importAt(0) == 0) }  // t = 0
        #expect(await importAt(0.5) == 60007)  // t = 0.5: 5 in (−0.5, 0.5]
        #expect(await importAt(0.499) == 60007)  // t = 0.999
        #expect(await importAt(0.001) == 0)  // t = 1.0: those at t = 0 left the window
        for _ in 1...4 { #expect(await importAt(0) == 0) }
        #expect(await importAt(0) == 60007)
        // Other APIs have their own windows.
        #expect(Fixture.code(await send(sandbox, "account_check", #"{"CheckItem":[{"UserID":"u"}]}"#, advance: 0)) == 0)

        let stats = sandbox.stats()
        #expect(stats.answers[60007] == 3)
        #expect(stats.calls["account_import"] == 13)
        // Arrivals, rejected ones included: 5 at t = 0 and 1 at t = 0.5, then 0.999 drops none…
        #expect(stats.maxCallsPerSecond["account_import"] == 8)
    }

    // MARK: Fault injection

    @Test func injectedErrorsImportNothing() async throws {
        let sandbox = Fixture.sandbox(clock: clock, seed: 7) { $0.errorRate = 0.3; $0.errorCodes = [70500, 60008] }
        var codes: [Int: Int] = [:]
        for index in 0..<500 {
            let response = await send(sandbox, "account_import", #"{"UserID":"u\#(index)"}"#, advance: 0.01)
            let code = try #require(Fixture.code(response))
            codes[code, default: 0] += 1
            #expect((sandbox.account("u\(index)") != nil) == (code == 0))
        }
        let injected = (codes[70500] ?? 0) + (codes[60008] ?? 0)
        #expect((110...190).contains(injected), "about 30 % of 500, got \(injected)")
        #expect((codes[70500] ?? 0) > 30 && (codes[60008] ?? 0) > 30)
        #expect(codes.keys.sorted() == [0, 60008, 70500])
        #expect(sandbox.stats().injectedErrors == injected)
    }

    @Test func sameSeedSameFaults() async {
        func run() async -> [Int?] {
            let clock = TestClock()
            let sandbox = Fixture.sandbox(clock: clock, seed: 99) { $0.errorRate = 0.5 }
            var codes: [Int?] = []
            for index in 0..<40 {
                clock.advance(by: 0.01)
                codes.append(Fixture.code(await sandbox.handle(Fixture.request("account_import", body: #"{"UserID":"u\#(index)"}"#, clock: clock))))
            }
            return codes
        }
        #expect(await run() == run())
    }

    @Test func http502sImportNothing() async {
        let sandbox = Fixture.sandbox(clock: clock, seed: 3) { $0.http502Rate = 0.2 }
        var bad = 0
        for index in 0..<300 {
            let response = await send(sandbox, "account_import", #"{"UserID":"u\#(index)"}"#, advance: 0.01)
            if response.status == 502 {
                bad += 1
                #expect(sandbox.account("u\(index)") == nil)
                #expect(Fixture.code(response) == nil)
            }
        }
        #expect((35...85).contains(bad), "about 20 % of 300, got \(bad)")
        #expect(sandbox.stats().http502 == bad)
    }

    @Test func lostResponsesImportButAnswerAnError() async throws {
        let sandbox = Fixture.sandbox(clock: clock, seed: 5) { $0.lostResponseRate = 1; $0.errorCodes = [70169] }
        #expect(Fixture.code(await send(sandbox, "account_import", #"{"UserID":"u"}"#)) == 70169)
        #expect(sandbox.account("u") != nil)
    }

    @Test func latencyIsAppliedBeforeAnswering() async {
        let slept = SleepLog()
        var configuration = SandboxConfiguration(sdkAppID: Fixture.sdkAppID, secretKey: Fixture.secretKey)
        configuration.latency = .range(.milliseconds(100)...(.milliseconds(300)))
        let sandbox = SandboxService(
            configuration: configuration, logger: Fixture.logger, now: clock.function,
            random: SeededRandomNumberGenerator(seed: 1), sleep: { slept.append($0) })
        for _ in 0..<20 { _ = await send(sandbox, "account_import", #"{"UserID":"u"}"#) }
        let delays = slept.all
        #expect(delays.count == 20)
        #expect(delays.allSatisfy { $0 >= .milliseconds(100) && $0 <= .milliseconds(300) })
        #expect(Set(delays).count > 1)
    }

    /// Tencent checks, counts and performs a call when it arrives; the latency
    /// is its time to answer after that. A UserSig valid on arrival passes,
    /// though it expires while the answer is on its way, and the call counts
    /// against the rate at its arrival.
    @Test func callsAreCheckedAndCountedOnArrival() async {
        var configuration = SandboxConfiguration(sdkAppID: Fixture.sdkAppID, secretKey: Fixture.secretKey)
        configuration.latency = .fixed(.seconds(20))
        let clock = clock
        // Time passes while the sandbox takes its time to answer.
        let sandbox = SandboxService(
            configuration: configuration, logger: Fixture.logger, now: clock.function,
            random: SeededRandomNumberGenerator(seed: 1), sleep: { clock.advance(by: Double($0.components.seconds) + Double($0.components.attoseconds) / 1e18) })
        let arrival = clock.now
        let userSig = UserSig.generate(
            identifier: Fixture.admin, sdkAppID: Fixture.sdkAppID, secretKey: Fixture.secretKey, expire: 10,
            now: arrival.addingTimeInterval(-5))
        let response = await send(sandbox, "account_import", #"{"UserID":"u"}"#, advance: 0, userSig: userSig)
        #expect(Fixture.code(response) == 0)  // valid at arrival; expired 5 s before the answer left
        #expect(clock.now == arrival.addingTimeInterval(20))
        #expect(sandbox.account("u") != nil)
        #expect(sandbox.stats().maxCallsPerSecond["account_import"] == 1)
    }

    // MARK: Inspection endpoints

    @Test func statsEndpoint() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        _ = await send(sandbox, "account_import", #"{"UserID":"u"}"#)
        _ = await send(sandbox, "account_import", #"{"UserID":"u"}"#)
        _ = await send(sandbox, "account_import", #"{"UserID":"u"}"#, userSig: "garbage")
        let response = await sandbox.handle(HTTPRequest(method: "GET", target: "/sandbox/stats", path: "/sandbox/stats"))
        #expect(response.status == 200)
        let json = Fixture.json(response)
        #expect(json["calls"] as? [String: Int] == ["account_import": 3])
        #expect(json["answers"] as? [String: Int] == ["0": 2, "70003": 1])
        #expect(json["max_calls_per_second"] as? [String: Int] == ["account_import": 3])
        #expect(json["duplicate_imports"] as? Int == 1)
        #expect(json["accounts"] as? Int == 1)
        #expect(json["http_502"] as? Int == 0)
        #expect(json["injected_errors"] as? Int == 0)
        let decoded = try JSONDecoder().decode(SandboxStats.self, from: Data(response.body))
        #expect(decoded == sandbox.stats())

        let post = await sandbox.handle(HTTPRequest(method: "POST", target: "/sandbox/stats", path: "/sandbox/stats"))
        #expect(post.status == 405)
        #expect(post.headers["Allow"] == "GET, HEAD")
    }

    @Test func accountEndpointAndReset() async throws {
        let sandbox = Fixture.sandbox(clock: clock)
        _ = await send(sandbox, "account_import", #"{"UserID":"u-1","Nick":"N"}"#)
        let found = await sandbox.handle(HTTPRequest(method: "GET", target: "/sandbox/accounts/u-1", path: "/sandbox/accounts/u-1"))
        #expect(found.status == 200)
        let json = Fixture.json(found)
        #expect(json["user_id"] as? String == "u-1")
        #expect(json["nick"] as? String == "N")
        #expect(json["import_count"] as? Int == 1)
        #expect((json["first_imported_at"] as? String)?.hasSuffix("Z") == true)

        let missing = await sandbox.handle(HTTPRequest(method: "GET", target: "/sandbox/accounts/nobody", path: "/sandbox/accounts/nobody"))
        #expect(missing.status == 404)

        let reset = await sandbox.handle(HTTPRequest(method: "POST", target: "/sandbox/reset", path: "/sandbox/reset"))
        #expect(reset.status == 200)
        #expect(sandbox.account("u-1") == nil)
        #expect(sandbox.stats() == SandboxStats())
    }
}

final class SleepLog: Sendable {
    private let log = Mutex<[Duration]>([])
    func append(_ duration: Duration) { log.withLock { $0.append(duration) } }
    var all: [Duration] { log.withLock { $0 } }
}
