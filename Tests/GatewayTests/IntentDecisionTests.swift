import Foundation
import Testing
@testable import Gateway

/// The intent decision for an account that exists, without a database.
@Suite struct IntentDecisionTests {
    func account(_ status: Account.Status, nick: String? = "Ann", faceURL: String? = nil) -> Account {
        Account(userID: "u1", chatUserID: "u1", nick: nick, faceURL: faceURL, status: status, createdAt: Date(), updatedAt: Date(),
                importedAt: status == .imported ? Date() : nil, attempts: 2, lastError: nil, upstreamExists: status == .imported)
    }

    func input(nick: String? = "Ann", faceURL: String? = nil) -> AccountInput {
        AccountInput(userID: "u1", chatUserID: "u1", nick: nick, faceURL: faceURL)
    }

    @Test func importedAsAskedIsUnchangedEvenOverQuota() {
        #expect(IntentDecision.decide(input(), existing: account(.imported), overQuota: false) == .unchanged)
        #expect(IntentDecision.decide(input(), existing: account(.imported), overQuota: true) == .unchanged)
        // A field left out keeps its value: still as asked.
        #expect(IntentDecision.decide(input(nick: nil), existing: account(.imported), overQuota: false) == .unchanged)
    }

    @Test func aChangedProfileOfAnImportedAccountIsRequeuedFromScratch() {
        #expect(IntentDecision.decide(input(nick: "Bob"), existing: account(.imported), overQuota: false)
            == .requeue(nick: "Bob", faceURL: nil, resetAttempts: true, wasImported: true))
        // Given fields replace, missing ones stay.
        #expect(IntentDecision.decide(input(nick: nil, faceURL: "https://x.test/a.png"), existing: account(.imported), overQuota: false)
            == .requeue(nick: "Ann", faceURL: "https://x.test/a.png", resetAttempts: true, wasImported: true))
    }

    @Test func aPendingAccountIsTouchedOrRequeuedKeepingItsAttempts() {
        #expect(IntentDecision.decide(input(), existing: account(.pending), overQuota: false) == .touch)
        #expect(IntentDecision.decide(input(nick: "Bob"), existing: account(.pending), overQuota: false)
            == .requeue(nick: "Bob", faceURL: nil, resetAttempts: false, wasImported: false))
    }

    @Test func aFailedAccountAskedAgainStartsOver() {
        #expect(IntentDecision.decide(input(), existing: account(.failed), overQuota: false)
            == .requeue(nick: "Ann", faceURL: nil, resetAttempts: true, wasImported: false))
    }

    @Test func overQuotaAnythingToQueueIsRefused() {
        for status in [Account.Status.pending, .failed] {
            #expect(IntentDecision.decide(input(), existing: account(status), overQuota: true) == .refuse)
        }
        #expect(IntentDecision.decide(input(nick: "Bob"), existing: account(.imported), overQuota: true) == .refuse)
    }
}
