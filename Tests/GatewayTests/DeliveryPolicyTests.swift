import Testing
@testable import Gateway

@Suite struct DeliveryPolicyTests {
    func policy(random: Double) -> DeliveryPolicy {
        var policy = DeliveryPolicy()
        policy.random = { random }
        return policy
    }

    @Test func successImports() {
        #expect(policy(random: 0.5).decide(.ok, attempt: 1) == .imported)
    }

    @Test(arguments: [40601, 70398, 70399, 70402, 70206])
    func permanentCodesReject(_ code: Int) {
        #expect(policy(random: 0.5).decide(.tencent(code: code, info: "no"), attempt: 1) == .rejected(code: code, info: "no"))
    }

    @Test(arguments: [60007, 60011, 60018, 60019])
    func rateLimitedWaitsAboutASecond(_ code: Int) {
        guard case .retry(let delay, .rateLimited, code, _) = policy(random: 0.5).decide(.tencent(code: code, info: ""), attempt: 3) else {
            Issue.record("not a rate-limit retry"); return
        }
        #expect(delay == .milliseconds(1500))
    }

    @Test func lockoutPausesSixtySeconds() {
        guard case .retry(let delay, .lockout, 70050, _) = policy(random: 0.9).decide(.tencent(code: 70050, info: ""), attempt: 1) else {
            Issue.record("not a lockout"); return
        }
        #expect(delay >= .seconds(60))
    }

    @Test(arguments: [60004, 60005, 60006, 60010, 60012, 60016, 60020, 60021, 70003, 70005, 70009, 70013, 70014, 70016, 70020, 70403])
    func misconfigurationStaysPendingWithoutHammering(_ code: Int) {
        guard case .retry(let delay, .misconfiguration, code, _) = policy(random: 0).decide(.tencent(code: code, info: ""), attempt: 1) else {
            Issue.record("not misconfiguration"); return
        }
        #expect(delay >= .seconds(30))
    }

    /// A wrong base URL or a proxy in the way: nothing to retry until someone fixes it.
    @Test(arguments: [301, 302, 400, 403, 404])
    func upstreamClientErrorsAreMisconfiguration(_ status: Int) {
        guard case .retry(_, .misconfiguration, nil, let info) = policy(random: 0).decide(.httpStatus(status), attempt: 1) else {
            Issue.record("not misconfiguration"); return
        }
        #expect(info.contains(String(status)))
    }

    @Test(arguments: [500, 502, 503, 504])
    func upstreamServerErrorsBackOff(_ status: Int) {
        guard case .retry(_, .transient, nil, _) = policy(random: 0.5).decide(.httpStatus(status), attempt: 1) else {
            Issue.record("not transient"); return
        }
    }

    @Test(arguments: [70001, 70052])
    func expiredSignaturesAreRetriedSoon(_ code: Int) {
        guard case .retry(let delay, .renewSignature, code, _) = policy(random: 0.999).decide(.tencent(code: code, info: ""), attempt: 7) else {
            Issue.record("not a renewal"); return
        }
        #expect(delay < .milliseconds(500))  // the first step of the backoff, whatever the attempt
        // After a transient error too.
        guard case .retry(let afterOther, .renewSignature, _, _) = policy(random: 0.999).decide(
            .tencent(code: code, info: ""), attempt: 7, previousCode: 70_503) else { Issue.record("not a renewal"); return }
        #expect(afterOther < .milliseconds(500))
    }

    /// Found from outside: a 70001 that a fresh signature does not cure (a skewed clock) was
    /// asked about three times a second for ever. A renewal after a renewal backs off.
    @Test(arguments: [70001, 70052])
    func aRenewalAfterARenewalBacksOff(_ code: Int) {
        var delays: [Duration] = []
        for attempt in 1...8 {
            guard case .retry(let delay, .renewSignature, _, _) = policy(random: 0.5).decide(
                .tencent(code: code, info: ""), attempt: attempt, previousCode: 70001) else { Issue.record("not a renewal"); return }
            delays.append(delay)
        }
        #expect(delays.last! >= .seconds(10), "\(delays)")
        #expect(zip(delays, delays.dropFirst()).allSatisfy { $0 <= $1 }, "\(delays)")
    }

    /// Undocumented codes and FailAccounts without a reason are counted (the bound is applied where outcomes are recorded).
    @Test(arguments: [70002, 60009, 60017, 70051, 72000, 12345])
    func undocumentedCodesAreUnexplained(_ code: Int) {
        guard case .retry(_, .unexplained, code, _) = policy(random: 0.5).decide(.tencent(code: code, info: "?"), attempt: 1) else {
            Issue.record("not unexplained"); return
        }
        guard case .retry(_, .unexplained, nil, _) = policy(random: 0.5).decide(.listedInFailAccounts, attempt: 1) else {
            Issue.record("FailAccounts not unexplained"); return
        }
    }

    @Test(arguments: [60008, 70169, 70202, 70500, 40006])
    func transientCodesBackOff(_ code: Int) {
        guard case .retry(_, .transient, code, _) = policy(random: 1).decide(.tencent(code: code, info: ""), attempt: 1) else {
            Issue.record("not transient"); return
        }
    }

    @Test(arguments: [60002, 60003])
    func gatewayBugsAlert(_ code: Int) {
        guard case .retry(_, .gatewayBug, code, _) = policy(random: 0).decide(.tencent(code: code, info: ""), attempt: 1) else {
            Issue.record("not a gateway bug"); return
        }
    }

    @Test func networkErrorsBackOff() {
        guard case .retry(_, .transient, nil, "reset") = policy(random: 0.5).decide(.transport("reset"), attempt: 2) else {
            Issue.record("not transient"); return
        }
    }

    @Test func transientBackoffGrowsAndIsCapped() {
        let top = policy(random: 0.999_999)
        func delay(_ attempt: Int) -> Duration {
            guard case .retry(let delay, .transient, _, _) = top.decide(.transport("x"), attempt: attempt) else { return .zero }
            return delay
        }
        #expect(delay(1) <= .milliseconds(500) && delay(1) > .milliseconds(499))
        #expect(delay(4) <= .seconds(4) && delay(4) > .milliseconds(3999))
        #expect(delay(50) <= .seconds(60) && delay(50) > .milliseconds(59_999))
        guard case .retry(let none, _, _, _) = policy(random: 0).decide(.transport("x"), attempt: 9) else { return }
        #expect(none == .zero)
    }
}
