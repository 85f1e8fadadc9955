import Testing
import TencentChat

@Suite struct RetryPolicyTests {
    @Test func ceilingDoublesUpToTheCap() {
        let policy = RetryPolicy(base: .milliseconds(100), cap: .seconds(2))
        #expect(policy.ceiling(attempt: 1) == .milliseconds(100))
        #expect(policy.ceiling(attempt: 2) == .milliseconds(200))
        #expect(policy.ceiling(attempt: 3) == .milliseconds(400))
        #expect(policy.ceiling(attempt: 5) == .milliseconds(1600))
        #expect(policy.ceiling(attempt: 6) == .seconds(2))
        #expect(policy.ceiling(attempt: 1000) == .seconds(2))
        #expect(policy.ceiling(attempt: 0) == .milliseconds(100))
    }

    @Test(arguments: [0.0, 0.25, 0.5, 0.999, 1.0])
    func fullJitterStaysWithinBounds(_ random: Double) {
        let policy = RetryPolicy(base: .milliseconds(100), cap: .seconds(2), random: { random })
        for attempt in 1...40 {
            let delay = policy.delay(attempt: attempt)
            #expect(delay >= .zero)
            #expect(delay < policy.ceiling(attempt: attempt))
        }
    }

    @Test func jitterScalesTheCeiling() {
        let half = RetryPolicy(base: .milliseconds(100), cap: .seconds(10), random: { 0.5 })
        #expect(abs((half.delay(attempt: 3) - .milliseconds(200)) / .milliseconds(1)) < 0.001)
        let zero = RetryPolicy(base: .milliseconds(100), cap: .seconds(10), random: { 0 })
        #expect(zero.delay(attempt: 7) == .zero)
    }
}
