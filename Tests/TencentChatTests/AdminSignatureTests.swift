import Foundation
import Testing
import TencentChat

@Suite struct AdminSignatureTests {
    func make(_ clock: TestClock, validity: Int = UserSig.defaultExpire, renewAfter: Int? = nil) -> AdminSignature {
        // The 180-day generator default, to test the one-day cap on renewal.
        AdminSignature(
            sdkAppID: Fixture.sdkAppID, identifier: Fixture.admin, secretKey: Fixture.secretKey,
            validity: validity, renewAfter: renewAfter, now: clock.function)
    }

    @Test func cachesUntilRenewalIsDue() throws {
        let clock = TestClock()
        let signature = make(clock)
        #expect(signature.renewAfter == 86_400)  // one day for the 180-day default
        let first = signature.current()
        try UserSig.verify(first, identifier: Fixture.admin, sdkAppID: Fixture.sdkAppID, secretKey: Fixture.secretKey, now: clock.now)

        clock.advance(by: 86_399)
        #expect(signature.current() == first)
        clock.advance(by: 1)
        let second = signature.current()
        #expect(second != first)
        #expect(signature.signaturesMade == 2)
        #expect(try UserSig.decode(second).time == Int(clock.now.timeIntervalSince1970))
    }

    /// Short-lived by default: valid for a day, renewed at half of it, long before it expires.
    @Test func defaultSignaturesLiveADay() throws {
        let clock = TestClock()
        let signature = AdminSignature(sdkAppID: Fixture.sdkAppID, identifier: Fixture.admin, secretKey: Fixture.secretKey,
                                       now: clock.function)
        #expect(signature.validity == 86_400)
        #expect(signature.renewAfter == 43_200)
        let first = signature.current()
        #expect(try UserSig.decode(first).expire == 86_400)
        clock.advance(by: 43_200)
        #expect(signature.current() != first)
    }

    /// A rotated key signs from the next call on; the same key again changes nothing.
    @Test func rotationSignsWithTheNewKey() throws {
        let clock = TestClock()
        let signature = make(clock, validity: 600)
        _ = signature.current()
        #expect(!signature.rotate(secretKey: Fixture.secretKey))
        #expect(signature.signaturesMade == 1)
        #expect(signature.rotate(secretKey: "another-key"))
        let rotated = signature.current()
        #expect(signature.signaturesMade == 2)
        try UserSig.verify(rotated, identifier: Fixture.admin, sdkAppID: Fixture.sdkAppID, secretKey: "another-key", now: clock.now)
        #expect(throws: UserSigError.self) {
            try UserSig.verify(rotated, identifier: Fixture.admin, sdkAppID: Fixture.sdkAppID, secretKey: Fixture.secretKey, now: clock.now)
        }
    }

    @Test func shortValidityRenewsAtHalfLife() {
        let clock = TestClock()
        let signature = make(clock, validity: 600)
        #expect(signature.renewAfter == 300)
        let first = signature.current()
        clock.advance(by: 300)
        #expect(signature.current() != first)
    }

    @Test func invalidateForcesANewSignature() throws {
        let clock = TestClock()
        let signature = make(clock)
        _ = signature.current()
        signature.invalidate()
        #expect(signature.issuedAt == nil)
        _ = signature.current()
        #expect(signature.signaturesMade == 2)
    }

    @Test func clockGoingBackwardsRenews() {
        let clock = TestClock()
        let signature = make(clock)
        let first = signature.current()
        clock.advance(by: -3600)
        #expect(signature.current() != first)
    }

    @Test func neverServesAnExpiredSignature() throws {
        let clock = TestClock()
        let signature = make(clock, validity: 100, renewAfter: 1000)  // renewAfter is clamped to validity
        _ = signature.current()
        clock.advance(by: 100)
        let sig = signature.current()
        try UserSig.verify(sig, identifier: Fixture.admin, sdkAppID: Fixture.sdkAppID, secretKey: Fixture.secretKey, now: clock.now.addingTimeInterval(99))
    }

    @Test func descriptionHasNoSecrets() {
        let signature = make(TestClock())
        let sig = signature.current()
        #expect(!signature.description.contains(Fixture.secretKey))
        #expect(!signature.description.contains(sig))
    }

    @Test func concurrentUseYieldsOneSignature() async {
        let signature = make(TestClock())
        let sigs = await withTaskGroup(of: String.self) { group in
            for _ in 0..<50 { group.addTask { signature.current() } }
            return await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        #expect(sigs.count == 1)
        #expect(signature.signaturesMade == 1)
    }
}
