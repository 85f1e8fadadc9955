import Foundation
import Testing
@testable import Gateway

/// Exactly one side writes a request's audit event: the delivery that records
/// the outcome with it, or the request itself.
@Suite struct RequestEventOfferTests {
    static func account(_ status: Account.Status, error: Account.UpstreamError? = nil) -> Account {
        Account(userID: "u1", chatUserID: "u1", nick: nil, faceURL: nil, status: status, createdAt: Date(), updatedAt: Date(),
                importedAt: nil, attempts: 1, lastError: error, upstreamExists: false)
    }

    static func offer() -> RequestEventOffer {
        RequestEventOffer { outcome in
            AuditEvent(requestID: "r", caller: "c", action: .accountImport, userID: outcome.account.userID,
                       outcome: outcome.kind.auditOutcome, httpStatus: outcome.httpStatus,
                       tencentErrorCode: outcome.account.lastError?.code)
        }
    }

    @Test func aFinalOutcomeTakesTheEventForItsAnswer() {
        let offer = Self.offer()
        let event = offer.take(predicting: Self.account(.failed, error: .init(code: 70398, info: "quota")))
        #expect(event?.outcome == .rejected && event?.httpStatus == 422 && event?.tencentErrorCode == 70398)
        // While the record is under way the request must wait for it, then answer what it wrote.
        #expect(offer.withdraw() == .taken)
        offer.settle(written: Self.account(.failed))
        #expect(offer.withdraw() == .written)
    }

    @Test func aRecordThatDidNotWriteItLeavesTheEventToTheRequest() {
        let offer = Self.offer()
        #expect(offer.take(predicting: Self.account(.imported))?.httpStatus == 201)
        offer.settle(written: nil)
        #expect(offer.withdraw() == .withdrawn)
    }

    @Test func aWithdrawnOfferCannotBeTaken() {
        let offer = Self.offer()
        #expect(offer.withdraw() == .withdrawn)
        #expect(offer.take(predicting: Self.account(.imported)) == nil)
        #expect(offer.withdraw() == .withdrawn)
    }

    @Test func aRetryTakesNothing() {
        let offer = Self.offer()
        #expect(offer.take(predicting: Self.account(.pending)) == nil)
        #expect(offer.withdraw() == .withdrawn)
    }

    @Test func aQueuedOfferIsTakenByTheBatchCallAndTheRequestWaitsForItsRecord() async {
        let offer = Self.offer()
        offer.handOver()
        #expect(offer.withdraw() == .queued, "the batch call may still take it")
        #expect(offer.take(predicting: Self.account(.imported))?.httpStatus == 201)
        let closing = Task { await offer.close() }
        try? await Task.sleep(for: .milliseconds(50))
        offer.settle(written: Self.account(.imported))
        let answered = await closing.value
        #expect(answered?.status == .imported, "the answer is the outcome recorded with the event")
        #expect(offer.written?.status == .imported)
    }

    @Test func closingAnOfferNobodyTookWithdrawsIt() async {
        let offer = Self.offer()
        offer.handOver()
        #expect(await offer.close() == nil)
        #expect(offer.take(predicting: Self.account(.imported)) == nil, "the request writes its own event")
        #expect(offer.withdraw() == .withdrawn)
    }
}
