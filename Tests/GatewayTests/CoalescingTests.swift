import Foundation
import Testing
@testable import Gateway

/// One delivery path for every pending account: under a backlog both central
/// budgets serve it together, a lone account still goes through account_import.
@Suite struct CoalescingTests {
    @Test func aBacklogIsServedByBothAPIsWithinBothLimits() async throws {
        var options = GatewayHarness.Options()
        options.importRate = 20
        options.batchRate = 10
        try await GatewayHarness.with(options) { h in
            // 3,000 pending accounts: 150 s for account_import alone at 20/s, 3 s for 10 batch calls/s.
            _ = try await h.pool.query("""
                INSERT INTO accounts (user_id, chat_user_id, nick, status, next_attempt_at)
                SELECT 'backlog_' || i, 'backlog_' || i, 'n' || i, 'pending', now() FROM generate_series(1, 3000) AS i
                """)
            let started = ContinuousClock.now
            let worker = Task { await h.app.runWorker() }
            var pending = 3000
            while pending > 0 && ContinuousClock.now - started < .seconds(30) {
                try await Task.sleep(for: .milliseconds(100))
                pending = try await h.pool.query("SELECT count(*) AS n FROM accounts WHERE status = 'pending'").rows[0].int("n")
            }
            let elapsed = ContinuousClock.now - started
            worker.cancel()
            await worker.value

            let stats = h.sandbox.stats()
            #expect(pending == 0)
            #expect(stats.accounts == 3000)
            #expect(h.sandbox.account("backlog_2777")?.nick == "n2777")
            let singles = stats.calls["account_import"] ?? 0
            let batches = stats.calls["multiaccount_import"] ?? 0
            #expect(singles > 0 && batches > 0, "both APIs serve a backlog: \(stats.calls)")
            #expect(stats.maxCallsPerSecond["account_import"] ?? 0 <= 20, "\(stats.maxCallsPerSecond)")
            #expect(stats.maxCallsPerSecond["multiaccount_import"] ?? 0 <= 10, "\(stats.maxCallsPerSecond)")
            #expect(stats.answers[60007] == nil)
            #expect(elapsed < .seconds(15), "took \(elapsed)")
            // One audit event per upstream call, whichever API made it.
            let events = try await h.pool.query("""
                SELECT count(*) FILTER (WHERE action = 'upstream.account_import') AS singles,
                       count(*) FILTER (WHERE action = 'upstream.multiaccount_import') AS batches FROM audit_events
                """).rows[0]
            #expect(try events.int("singles") == singles)
            #expect(try events.int("batches") == batches)
        }
    }

    @Test func aLoneRequestGoesThroughAccountImport() async throws {
        try await GatewayHarness.with { h in
            let worker = Task { await h.app.runWorker() }
            defer { worker.cancel() }
            let response = try await h.postAccount(#"{"user_id":"lone_1","nick":"Lone"}"#)
            #expect(response.status == 201)
            let stats = h.sandbox.stats()
            #expect(stats.calls["account_import"] == 1)
            #expect(stats.calls["multiaccount_import"] == nil)
        }
    }

    /// `count` concurrent `POST /accounts` of new user_ids `<prefix>_1`…, started
    /// `apart` from each other; their statuses.
    static func postNewAccounts(_ h: GatewayHarness, prefix: String, count: Int, apart: Duration = .zero) async throws -> [Int] {
        try await withThrowingTaskGroup(of: Int.self) { group in
            for i in 1...count {
                group.addTask { try await h.postAccount(#"{"user_id":"\#(prefix)_\#(i)"}"#).status }
                if apart > .zero { try await Task.sleep(for: apart) }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    /// Requests that account_import cannot serve before their deadline are not
    /// answered 202 at once: the worker coalesces them through the batch budget,
    /// and each request answers 201 when its account is confirmed in time.
    @Test func aBurstBeyondAccountImportIsConfirmedThroughBatches() async throws {
        var options = GatewayHarness.Options()
        options.importRate = 2
        options.waitMilliseconds = 3000
        try await GatewayHarness.with(options) { h in
            let worker = Task { await h.app.runWorker() }
            defer { worker.cancel() }
            let statuses = try await Self.postNewAccounts(h, prefix: "burst", count: 20)
            #expect(statuses.sorted() == Array(repeating: 201, count: 20), "\(statuses)")
            let stats = h.sandbox.stats()
            #expect(stats.accounts == 20)
            // 20 accounts at 2 account_import calls/s would take 10 s; batches carried most of them.
            #expect((stats.calls["multiaccount_import"] ?? 0) > 0, "\(stats.calls)")
            #expect((stats.calls["account_import"] ?? 0) < 20, "\(stats.calls)")
            #expect(stats.maxCallsPerSecond["account_import"] ?? 0 <= 2, "\(stats.maxCallsPerSecond)")
        }
    }

    /// A batch call takes what is queued when its slot comes: requests that
    /// arrive one by one while the batch budget is scarce share its calls,
    /// rather than each handful spending a call (and waiting seconds for one).
    @Test func aTrickleOfRequestsFillsEachBatchCall() async throws {
        var options = GatewayHarness.Options()
        options.importRate = 1
        options.batchRate = 2
        options.waitMilliseconds = 4000
        try await GatewayHarness.with(options) { h in
            let worker = Task { await h.app.runWorker() }
            defer { worker.cancel() }
            let statuses = try await Self.postNewAccounts(h, prefix: "trickle", count: 40, apart: .milliseconds(25))
            let stats = h.sandbox.stats()
            #expect(stats.accounts == 40)
            // At 2 batch calls/s, a call per handful would leave most of them unconfirmed after 4 s.
            #expect(statuses.sorted() == Array(repeating: 201, count: 40), "\(statuses) \(stats.calls)")
            let batches = stats.calls["multiaccount_import"] ?? 0
            #expect(batches > 0 && batches <= 8, "\(stats.calls)")
            #expect(stats.maxCallsPerSecond["multiaccount_import"] ?? 0 <= 2, "\(stats.maxCallsPerSecond)")
            // Each request's own event once, and for those a batch call carried, in the statement
            // that recorded that call (one transaction with its multiaccount_import event).
            let events = try await h.pool.query("""
                SELECT count(*) AS requests, count(DISTINCT request_id) AS distinct_requests,
                       count(*) FILTER (WHERE http_status = 201) AS created,
                       count(*) FILTER (WHERE xmin::text IN (SELECT xmin::text FROM audit_events
                                                             WHERE action = 'upstream.multiaccount_import')) AS with_batch
                FROM audit_events WHERE action = 'account.import'
                """).rows[0]
            #expect(try events.int("requests") == 40 && events.int("distinct_requests") == 40 && events.int("created") == 40)
            let withBatch = try events.int("with_batch")
            #expect(withBatch >= 30, "\(withBatch) of 40 request events written with their batch call's record")
        }
    }

    @Test func theBatchQueueHandsOutTheOldestClaimsOnlyWhileASenderRuns() {
        let queue = BatchQueue()
        #expect(!queue.offer([claim("early")]), "no sender yet: the claim stays the caller's")
        #expect(queue.count == 0)
        queue.open()
        #expect(queue.offer((1...150).map { claim("q\($0)") }))
        #expect(queue.take(100).map(\.account.userID) == (1...100).map { "q\($0)" })
        #expect(queue.count == 50)
        #expect(queue.offer([claim("late")]))
        // A second sender (a worker started while the last one stops): the queue stays open until both stop.
        queue.open()
        #expect(queue.close().isEmpty)
        #expect(queue.offer([claim("late")]) && queue.take(1).count == 1)
        let left = queue.close()
        #expect(left.count == 51 && left.last?.account.userID == "late")
        #expect(!queue.offer([claim("after")]), "a stopped sender takes nothing more")
        #expect(queue.count == 0)
    }

    @Test func aRingWakesTheWaiterAndARingWithNoWaiterIsKept() async {
        let bell = Doorbell()
        bell.ring()
        let started = ContinuousClock.now
        await bell.wait(timeout: .seconds(10))
        #expect(ContinuousClock.now - started < .seconds(1), "a ring before the wait is not lost")
        let waiter = Task { await bell.wait(timeout: .seconds(10)) }
        try? await Task.sleep(for: .milliseconds(50))
        bell.ring()
        await waiter.value
        #expect(ContinuousClock.now - started < .seconds(5), "a ring wakes the waiter")
        let quiet = ContinuousClock.now
        await bell.wait(timeout: .milliseconds(100))
        #expect(ContinuousClock.now - quiet >= .milliseconds(100), "without a ring the wait times out")
    }

    @Test func thePlanSendsSinglesWhileTheShareLastsAndBulkInBatches() {
        // A retry may find the account at Tencent already (an earlier attempt's answer lost): multiaccount_import.
        #expect(ImportWorker.plan([claim("r", attempt: 2)], singles: 5).batched.map(\.account.userID) == ["r"])
        // A handful goes singly while account_import's share lasts, whatever its origin...
        let few = [claim("a", bulk: true), claim("b", exists: true), claim("c"), claim("d"), claim("e")]
        let plan = ImportWorker.plan(few, singles: 2)
        #expect(plan.singles.map(\.account.userID) == ["a", "c"])
        // ...and a profile change needs multiaccount_import whatever the room.
        #expect(plan.batched.map(\.account.userID) == ["b", "d", "e"])
        #expect(ImportWorker.plan(few, singles: 0).singles.isEmpty)

        // A backlog of single requests: account_import's share first, the rest coalesced.
        let singles = (1...30).map { claim("s\($0)") }
        let split = ImportWorker.plan(singles, singles: 5)
        #expect(split.singles.map(\.account.userID) == (1...5).map { "s\($0)" })
        #expect(split.batched.map(\.account.userID) == (6...30).map { "s\($0)" })

        // A backlog asked for in bulk goes in batches only, leaving account_import to single requests.
        let bulk = (1...30).map { claim("b\($0)", bulk: true) }
        let bulkSplit = ImportWorker.plan(bulk, singles: 5)
        #expect(bulkSplit.batched.map(\.account.userID) == (1...30).map { "b\($0)" })
        #expect(bulkSplit.singles.isEmpty)
    }
}

/// A claim on a pending account, for the tests that need no database.
private func claim(_ id: String, exists: Bool = false, bulk: Bool = false, attempt: Int = 1) -> ImportDelivery.Claim {
    let now = Date()
    return ImportDelivery.Claim(account: Account(
        userID: id, chatUserID: id, nick: nil, faceURL: nil, status: .pending, createdAt: now, updatedAt: now,
        importedAt: nil, attempts: attempt, lastError: nil, upstreamExists: exists), requestID: nil, caller: nil, bulk: bulk)
}
