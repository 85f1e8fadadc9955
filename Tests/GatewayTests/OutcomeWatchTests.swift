import Foundation
import PostgresClient
import Synchronization
import Testing
@testable import Gateway

/// A request waiting for an account learns of an outcome another replica
/// recorded within the watch interval, not at its own next poll.
@Suite struct OutcomeWatchTests {
    @Test func anOutcomeRecordedElsewhereWakesItsWaiterWithinTheInterval() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 2)
        _ = try await pool.query("""
            INSERT INTO accounts (user_id, chat_user_id, status, next_attempt_at)
            VALUES ('elsewhere', 'elsewhere', 'pending', now()), ('still', 'still', 'pending', now())
            """)
        let signals = OutcomeSignals()
        let watcher = Task {
            await signals.watch(every: .milliseconds(10), resolved: { try await AccountStore.resolved($0, on: pool) },
                                onError: { Issue.record($0) })
        }
        let clock = ContinuousClock()
        async let woken: Duration = clock.measure { await signals.wait(for: "elsewhere", timeout: .seconds(5)) }
        async let stillWaiting: Duration = clock.measure { await signals.wait(for: "still", timeout: .seconds(1)) }
        try await Task.sleep(for: .milliseconds(100))
        // Another replica records the outcome: nothing in this process signals it.
        _ = try await pool.query("UPDATE accounts SET status = 'imported', imported_at = now() WHERE user_id = 'elsewhere'")
        let elapsed = await woken
        #expect(elapsed < .seconds(1), "woken after \(elapsed)")
        #expect(await stillWaiting >= .seconds(1), "a pending account's waiter must not be woken")
        watcher.cancel()
        await pool.close()
        await database.drop()
    }

    @Test func anIdleWatcherAsksNothing() async throws {
        let asked = Counter()
        let signals = OutcomeSignals()
        let watcher = Task {
            await signals.watch(every: .milliseconds(5), resolved: { ids in asked.add(ids.count); return [] }, onError: { _ in })
        }
        try await Task.sleep(for: .milliseconds(100))
        #expect(asked.value == 0)
        await signals.wait(for: "a", timeout: .milliseconds(100))
        #expect(asked.value > 0, "a waiter must be watched")
        watcher.cancel()
    }

    @Test func aWaiterWhoseClaimIsQueuedHereIsNotAskedAboutButIsSignalled() async throws {
        let asked = Mutex<Set<String>>([])
        let signals = OutcomeSignals()
        let watcher = Task {
            await signals.watch(every: .milliseconds(5), resolved: { ids in asked.withLock { $0.formUnion(ids) }; return [] },
                                onError: { _ in })
        }
        let clock = ContinuousClock()
        async let local: Duration = clock.measure { await signals.wait(for: "queued-here", timeout: .seconds(5), watched: false) }
        async let remote: Void = signals.wait(for: "elsewhere", timeout: .milliseconds(200))
        try await Task.sleep(for: .milliseconds(100))
        signals.signal("queued-here")
        #expect(await local < .seconds(1), "this replica's record wakes it")
        await remote
        watcher.cancel()
        let seen = asked.withLock { $0 }
        #expect(seen == ["elsewhere"], "\(seen)")
    }
}

private final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func add(_ n: Int) { count.withLock { $0 += n } }
}
