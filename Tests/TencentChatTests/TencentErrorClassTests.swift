import Foundation
import Testing
import TencentChat

@Suite struct TencentErrorClassTests {
    /// Every row of TENCENT.md's table.
    static let table: [(codes: [Int], expected: TencentErrorClass)] = [
        ([0], .success),
        ([60007, 60011, 60018, 60019], .rateLimited),
        ([70050], .signatureLockout),
        ([60008, 70169, 70202, 70500, 40006], .transient),
        ([70001, 70052], .renewSignature),
        ([60004, 60005, 60006, 60010, 60012, 60016, 60020, 60021,
          70003, 70005, 70009, 70013, 70014, 70016, 70020, 70403], .misconfiguration),
        ([40601], .permanent),
        ([70398], .permanent),
        ([70399], .permanent),
        ([70402, 70206], .permanent),
        ([60002, 60003], .gatewayBug),
    ]

    @Test(arguments: table.flatMap { row in row.codes.map { ($0, row.expected) } })
    func documentedCode(_ code: Int, _ expected: TencentErrorClass) {
        #expect(TencentErrorClass.classify(code) == expected)
    }

    /// Codes seen in the wild that TENCENT.md does not list for these APIs, and nonsense.
    @Test(arguments: [1, 60001, 60009, 60017, 70002, 70051, 72000, 70107, 99999, -1])
    func undocumentedCodesHaveAClassOfTheirOwn(_ code: Int) {
        #expect(TencentErrorClass.classify(code) == .undocumented)
        #expect(TencentErrorClass.undocumented.isRetryable)
    }

    @Test func httpStatuses() {
        #expect(TencentErrorClass.classify(httpStatus: 200) == .success)
        for status in [301, 302, 307, 400, 401, 403, 404, 405] {
            #expect(TencentErrorClass.classify(httpStatus: status) == .misconfiguration, "HTTP \(status)")
            #expect(TencentClientError.httpStatus(status).errorClass == .misconfiguration)
        }
        for status in [500, 502, 503, 504, 100, 204] {
            #expect(TencentErrorClass.classify(httpStatus: status) == .transient, "HTTP \(status)")
        }
    }

    @Test func retryability() {
        #expect(TencentErrorClass.transient.isRetryable)
        #expect(TencentErrorClass.rateLimited.isRetryable)
        #expect(!TencentErrorClass.permanent.isRetryable)
        #expect(!TencentErrorClass.misconfiguration.isRetryable)
        #expect(!TencentErrorClass.gatewayBug.isRetryable)
    }

    @Test func replyClassification() {
        #expect(TencentReply(actionStatus: "OK", errorCode: 0, errorInfo: "").errorClass == .success)
        #expect(TencentReply(actionStatus: "FAIL", errorCode: 70398, errorInfo: "").errorClass == .permanent)
        // Contradictory answers are not successes.
        #expect(TencentReply(actionStatus: "FAIL", errorCode: 0, errorInfo: "").errorClass == .transient)
        #expect(TencentReply(actionStatus: "OK", errorCode: 60007, errorInfo: "").errorClass == .rateLimited)
    }
}

@Suite struct UpstreamErrorsDocTests {
    /// docs/UPSTREAM_ERRORS.md's code table, row by row: `| code | class | meaning |`.
    @Test func docsTableMatchesTheClassifier() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("docs/UPSTREAM_ERRORS.md"), encoding: .utf8)
        var table: [Int: String] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 2, let code = Int(cells[0]) else { continue }
            #expect(table[code] == nil, "code \(code) is listed twice")
            table[code] = cells[1]
        }
        #expect(table.mapValues { $0 } == TencentErrorClass.documented.mapValues(\.rawValue))
        // Every class named in the code table, and every class has a row saying what happens.
        for errorClass in TencentErrorClass.allCases {
            #expect(text.contains("| `\(errorClass.rawValue)` |"), "no row for class \(errorClass.rawValue)")
        }
    }
}
