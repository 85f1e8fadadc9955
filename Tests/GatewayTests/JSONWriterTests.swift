import Foundation
import Testing
@testable import Gateway

/// The hand-written JSON of the hot paths (account answers, audit inserts)
/// must parse back to exactly what was written, as JSONEncoder's did.
@Suite struct JSONWriterTests {
    private func parse(_ bytes: [UInt8]) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])
    }

    @Test(arguments: [
        "plain", "", "quote \" and backslash \\", "slash / stays", "new\nline\r\ttab\u{8}\u{C}",
        "nul \u{0} unit \u{1F} del \u{7F}", "é 中文 \u{1F600}", "\u{2028}\u{2029}",
    ])
    func stringsRoundTrip(_ text: String) throws {
        var writer = JSONWriter()
        writer.string(text)
        #expect(try parse(writer.bytes) as? String == text)
        let written = String(decoding: writer.bytes, as: UTF8.self)
        #expect(!written.unicodeScalars.dropFirst().dropLast().contains { $0.value < 0x20 }, "control characters are escaped")
        if text.contains("/") { #expect(written.contains("/") && !written.contains("\\/")) }
    }

    @Test func nestingSeparatesMembersAndElements() throws {
        var writer = JSONWriter()
        writer.object { json in
            json.field("a", 1)
            json.key("list")
            json.array([1, 2, 3]) { json, n in json.object { $0.field("n", n); $0.field("none", nil as String?) } }
            json.fieldIfPresent("skipped", nil as Int?)
            json.key("empty")
            json.array([Int]()) { _, _ in }
            json.field("z", "last")
        }
        #expect(String(decoding: writer.bytes, as: UTF8.self)
            == #"{"a":1,"list":[{"n":1,"none":null},{"n":2,"none":null},{"n":3,"none":null}],"empty":[],"z":"last"}"#)
    }

    @Test func anAccountHasEveryContractKey() throws {
        let date = Date(timeIntervalSince1970: 1_790_000_000.123)
        let full = Account(userID: "u\"1", chatUserID: "u1", nick: "Nick\n", faceURL: "https://x/y.png", status: .failed,
                           createdAt: date, updatedAt: date, importedAt: date, attempts: 3,
                           lastError: .init(code: 70402, info: "bad \\ info"), upstreamExists: true)
        let bare = Account(userID: "u2", chatUserID: "u2", nick: nil, faceURL: nil, status: .pending, createdAt: date,
                           updatedAt: date, importedAt: nil, attempts: 0, lastError: nil, upstreamExists: false)
        let keys: Set = ["user_id", "chat_user_id", "nick", "face_url", "status", "created_at", "updated_at", "imported_at",
                         "attempts", "last_error"]
        let parsedFull = try #require(try parse(JSON.encode(full)) as? [String: Any])
        #expect(Set(parsedFull.keys) == keys)
        #expect(parsedFull["user_id"] as? String == "u\"1")
        #expect(parsedFull["nick"] as? String == "Nick\n")
        #expect(parsedFull["status"] as? String == "failed")
        #expect(parsedFull["created_at"] as? String == RFC3339.string(date))
        #expect(parsedFull["attempts"] as? Int == 3)
        let error = try #require(parsedFull["last_error"] as? [String: Any])
        #expect(error["code"] as? Int == 70402 && error["info"] as? String == "bad \\ info" && error.count == 2)
        let parsedBare = try #require(try parse(JSON.encode(bare)) as? [String: Any])
        #expect(Set(parsedBare.keys) == keys)
        for key in ["nick", "face_url", "imported_at", "last_error"] {
            #expect(parsedBare[key] is NSNull, "\(key) is null, not absent")
        }
        // Keys are sorted, as the contract's conventions say.
        let text = String(decoding: JSON.encode(bare), as: UTF8.self)
        let order = keys.sorted().map { text.range(of: "\"\($0)\":")!.lowerBound }
        #expect(order == order.sorted())
    }

    @Test func auditEventsCarryOnlyPresentStorableFields() throws {
        var denied = AuditEvent(requestID: "r\u{0}1", caller: nil, action: .authDenied, outcome: .unauthenticated,
                                httpStatus: 401, route: "/accounts")
        denied.attempt = 2
        let imported = AuditEvent(requestID: "r2", caller: "svc", action: .accountImport, userID: String(repeating: "x", count: 300),
                                  chatUserID: "c", outcome: .imported, httpStatus: 201, tencentErrorCode: 0,
                                  tencentErrorInfo: "ok", latencyMilliseconds: 7, idempotencyKey: "k")
        let rows = try #require(try parse(JSON.encode([denied, imported])) as? [[String: Any]])
        #expect(rows.count == 2)
        #expect(Set(rows[0].keys) == ["request_id", "action", "outcome", "http_status", "attempt", "route"])
        #expect(rows[0]["request_id"] as? String == "r\u{FFFD}1", "a NUL cannot be stored in PostgreSQL text")
        #expect(rows[0]["action"] as? String == "auth.denied" && rows[0]["attempt"] as? Int == 2)
        #expect(Set(rows[1].keys) == ["request_id", "caller", "action", "user_id", "chat_user_id", "outcome", "http_status",
                                      "tencent_error_code", "tencent_error_info", "latency_ms", "idempotency_key"])
        let userID = try #require(rows[1]["user_id"] as? String)
        #expect(userID.utf8.count <= 256 && userID.hasSuffix("…"), "cut to its column's bound")
        #expect(rows[1]["tencent_error_code"] as? Int == 0 && rows[1]["latency_ms"] as? Int == 7)
    }
}
