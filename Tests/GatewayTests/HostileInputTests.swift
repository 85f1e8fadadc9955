import Foundation
import Testing
@testable import Gateway

/// Bodies a buggy or hostile caller sends: each is a 400, never a 5xx, and audited.
@Suite struct JSONStructureTests {
    private func problem(_ json: String, _ structure: JSONStructure = JSONStructure()) -> JSONStructure.Problem? {
        do { try structure.check(Array(json.utf8)); return nil } catch { return error }
    }

    @Test func duplicateKeysAreFoundEvenWhenEscapedDifferently() {
        #expect(problem(#"{"user_id":"a1","user_id":"a2"}"#) == .duplicateKey("user_id"))
        #expect(problem(#"{"user_id":"a1","user\u005fid":"a2"}"#) == .duplicateKey("user_id"))
        #expect(problem(#"{"a":{"k":1,"k":2}}"#) == .duplicateKey("k"))
        #expect(problem(#"{"accounts":[{"user_id":"a"},{"user_id":"b","nick":"x","nick":"y"}]}"#) == .duplicateKey("nick"))
        #expect(problem(#"{"ü":1,"\u00fc":2}"#) == .duplicateKey("ü"))
        #expect(problem(#"{"😀":1,"\ud83d\ude00":2}"#) == .duplicateKey("😀"))
    }

    @Test func sameKeysInDifferentObjectsAndKeyLikeValuesAreFine() {
        #expect(problem(#"{"accounts":[{"user_id":"a"},{"user_id":"b"}]}"#) == nil)
        #expect(problem(#"{"a":"a","b":["a","a"],"c":{"a":"}\"{,"},"d":"a"}"#) == nil)
        #expect(problem(#"{"nick":"{\"nick\":1,\"nick\":2}"}"#) == nil)
        #expect(problem(#" { "a" : 1 , "b" : [ true , false , null , -1.5e3 ] } "#) == nil)
    }

    @Test func depthAndArrayItemsAreBounded() {
        #expect(problem(String(repeating: "[", count: 9) + String(repeating: "]", count: 9)) == .tooDeep(limit: 8))
        #expect(problem(String(repeating: "[", count: 8) + String(repeating: "]", count: 8)) == nil)
        let items = (0..<5).map { #"{"user_id":"u\#($0)"}"# }.joined(separator: ",")
        #expect(problem(#"{"accounts":[\#(items)]}"#, JSONStructure(maxArrayItems: 5)) == nil)
        #expect(problem(#"{"accounts":[\#(items),1]}"#, JSONStructure(maxArrayItems: 5)) == .tooManyItems(limit: 5))
        #expect(problem(#"{"accounts":[1,2,3,"x",null,true]}"#, JSONStructure(maxArrayItems: 5)) == .tooManyItems(limit: 5))
    }

    @Test func theParserRefusesWhatTheScanFinds() {
        guard case .failure(let malformed) = JSON.object(Array(#"{"user_id":"a1","user_id":"a2"}"#.utf8)) else {
            Issue.record("a duplicate key was accepted"); return
        }
        #expect(malformed.message.contains(#""user_id" twice"#))
    }

    /// Found from outside: Foundation's parser on Linux took trailing commas and
    /// UTF-16 bodies, and called a bare string or number "not valid JSON".
    @Test func onlyRFC8259ObjectsInUTF8AreObjects() {
        #expect(problem(#"{"user_id":"a",}"#) == .trailingComma)
        #expect(problem(#"{"accounts":[{"user_id":"a"},]}"#) == .trailingComma)
        #expect(problem(#"{"accounts":[{"user_id":"a"}] , }"#) == .trailingComma)
        #expect(problem(#"{"a":",}","b":"[1,]"}"#) == nil, "commas and brackets inside strings are text")
        let refused: [([UInt8], String)] = [
            (Array(#"{"user_id":"tc",}"#.utf8), "a comma before a closing bracket"),
            (Array(#"{"user_id":"tc"}"#.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }, "must be UTF-8"),
            ([0xFF, 0xFE] + Array(#"{"user_id":"tc"}"#.utf16).flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }, "must be UTF-8"),
            (Array(#"{"user_id":"a"#.utf8) + [0] + Array(#""}"#.utf8), "must be UTF-8"),
            (Array("null".utf8), "must be a JSON object"), (Array("5".utf8), "must be a JSON object"),
            (Array(#""str""#.utf8), "must be a JSON object"), (Array("[1]".utf8), "must be a JSON object"),
        ]
        for (body, reason) in refused {
            guard case .failure(let malformed) = JSON.object(body) else { Issue.record("accepted: \(body)"); continue }
            #expect(malformed.message.hasPrefix("The request body ") && malformed.reason.contains(reason), "\(malformed.reason)")
        }
        // RFC 8259 §8.1 lets a parser ignore a UTF-8 byte order mark.
        #expect((try? JSON.object([0xEF, 0xBB, 0xBF] + Array(#"{"user_id":"bom"}"#.utf8)).get())?["user_id"] as? String == "bom")
    }
}

@Suite struct FaceURLTests {
    @Test(arguments: ["https://img.test/a.png", "http://img.test/a.png?s=1&t=2", "HTTPS://IMG.TEST/A.PNG", ""])
    func webURLsAndEmptyAreAccepted(_ url: String) throws {
        let object: [String: Any] = ["user_id": "u1", "face_url": url]
        #expect(try AccountInput.parse(object, strategy: .verbatim).faceURL == url)
    }

    @Test(arguments: ["javascript:alert(1)", "data:image/png;base64,AAAA", "/relative.png", "ftp://x/a.png",
                      "https://", "file:///etc/passwd", "img.test/a.png", "https://a b/"])
    func anythingElseIsRefused(_ url: String) {
        let object: [String: Any] = ["user_id": "u1", "face_url": url]
        #expect(throws: ValidationFailure(errors: [FieldError(field: "face_url", message: "must be an absolute http or https URL (or empty)")])) {
            try AccountInput.parse(object, strategy: .verbatim)
        }
    }
}

@Suite struct AuditTextTests {
    @Test func controlCharactersBecomeReplacementCharacters() {
        #expect(AuditText.storable("a\u{0}b\u{1B}c\u{7F}", maxBytes: 100) == "a\u{FFFD}b\u{FFFD}c\u{FFFD}")
        #expect(AuditText.storable(nil, maxBytes: 10) == nil)
        #expect(AuditText.storable("plain", maxBytes: 5) == "plain")
    }

    @Test func longTextIsCutAtACharacterBoundary() throws {
        let cut = try #require(AuditText.storable(String(repeating: "é", count: 200), maxBytes: 256))
        #expect(cut.utf8.count <= 256)
        #expect(cut.hasSuffix("…"))
        #expect(cut.dropLast().allSatisfy { $0 == "é" })
    }
}

@Suite(.serialized) struct HostileBodyRouteTests {
    private func lastEvent(_ h: GatewayHarness) async throws -> (userID: String?, status: Int?, outcome: String) {
        let row = try #require(try await h.pool.query(
            "SELECT user_id, http_status, outcome FROM audit_events WHERE action = 'account.import' OR action = 'account.lookup' OR action = 'account.batch_import' ORDER BY id DESC LIMIT 1").rows.first)
        return (try row.optionalString("user_id"), try row.optionalInt("http_status"), try row.string("outcome"))
    }

    @Test func aNulInTheUserIDIsA400AndAudited() async throws {
        for strategy in [IDStrategy.verbatim, .hashed] {
            var options = GatewayHarness.Options()
            options.idStrategy = strategy
            try await GatewayHarness.with(options) { h in
                let response = try await h.postAccount(#"{"user_id":"a\u0000b"}"#)
                #expect(response.status == 400, "\(strategy)")
                let event = try await lastEvent(h)
                #expect(event.status == 400)
                #expect(event.userID == "a\u{FFFD}b")
            }
        }
    }

    @Test func duplicateKeysAndJavascriptURLsAre400() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.postAccount(#"{"user_id":"a1","user_id":"a2"}"#).status == 400)
            let script = try await h.postAccount(#"{"user_id":"a1","face_url":"javascript:alert(1)"}"#)
            #expect(script.status == 400)
            #expect(String(decoding: script.body, as: UTF8.self).contains("face_url"))
            #expect(try await h.request("GET", "/accounts/a1", token: h.importerToken).status == 404)
        }
    }

    @Test func aLongPathUserIDIsAuditedWithinItsBound() async throws {
        try await GatewayHarness.with { h in
            let long = String(repeating: "x", count: 8_000)  // within the 8 KiB request line
            let response = try await h.request("GET", "/accounts/\(long)", token: h.importerToken)
            #expect([400, 404].contains(response.status))
            let event = try await lastEvent(h)
            let stored = try #require(event.userID)
            #expect(stored.utf8.count <= 256 && stored.hasSuffix("…"))
        }
    }

    @Test func aBatchOverTheLimitIsRefusedWhileScanning() async throws {
        try await GatewayHarness.with { h in
            let items = (0...GatewayApplication.maxBatchAccounts).map { #"{"user_id":"b\#($0)"}"# }.joined(separator: ",")
            let response = try await h.request("POST", "/accounts/batch", token: h.importerToken, json: #"{"accounts":[\#(items)]}"#)
            #expect(response.status == 400)
            let problem = try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any])
            let errors = try #require(problem["errors"] as? [[String: String]])
            #expect(errors.first?["field"] == "accounts")
            #expect(try await lastEvent(h).status == 400)
        }
    }

    @Test func auditFiltersWithControlCharactersOrTrailingJunkAre400() async throws {
        try await GatewayHarness.with { h in
            for query in ["user_id=%00", "caller=a%00b", "outcome=%01", "action=auth.denied%00",
                          "since=2026-01-01T00:00:00Z%00", "until=2026-01-01T00:00:00Zjunk"] {
                let response = try await h.request("GET", "/audit?\(query)", token: h.auditorToken)
                #expect(response.status == 400, "\(query)")
            }
            #expect(try await h.request("GET", "/audit?since=2026-01-01T00:00:00.5%2B08:00", token: h.auditorToken).status == 200)
        }
    }
}
