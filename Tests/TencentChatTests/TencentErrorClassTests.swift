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
        ([70402, 70206], .permanent),
        ([60002, 60003], .gatewayBug),
    ]

    @Test(arguments: table.flatMap { row in row.codes.map { ($0, row.expected) } })
    func documentedCode(_ code: Int, _ expected: TencentErrorClass) {
        #expect(TencentErrorClass.classify(code) == expected)
    }

    @Test(arguments: [1, 60001, 60009, 70107, 99999, -1])
    func unknownCodesAreTransient(_ code: Int) {
        #expect(TencentErrorClass.classify(code) == .transient)
    }

    @Test func httpStatuses() {
        #expect(TencentErrorClass.classify(httpStatus: 200) == .success)
        for status in [301, 404, 500, 502, 503, 504] {
            #expect(TencentErrorClass.classify(httpStatus: status) == .transient)
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
