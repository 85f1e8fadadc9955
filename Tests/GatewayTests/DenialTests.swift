import Foundation
import PostgresClient
import Testing
@testable import Gateway

@Suite struct DenialLedgerTests {
    let source = DenialLedger.Source(address: "10.0.0.7", status: 401, caller: nil, route: "/accounts")

    @Test func theFirstOfAMinuteIsAuditedAndTheRestCounted() {
        let ledger = DenialLedger(window: .seconds(60))
        let start = ContinuousClock.now
        #expect(ledger.record(source, requestID: "r0", now: start))
        for index in 1...99 {
            #expect(!ledger.record(source, requestID: "r\(index)", now: start + .milliseconds(index)))
        }
        // Another source, or the same address refused for its role, has windows of its own.
        #expect(ledger.record(DenialLedger.Source(address: "10.0.0.8", status: 401, caller: nil, route: "/accounts"), requestID: "x", now: start))
        #expect(ledger.record(DenialLedger.Source(address: "10.0.0.7", status: 403, caller: "svc", route: "/accounts"), requestID: "y", now: start))
        #expect(ledger.due(now: start + .seconds(59)).isEmpty)
        #expect(ledger.due(now: start + .seconds(60)) == [DenialLedger.Summary(source: source, count: 99, requestID: "r99")])
        #expect(ledger.due(now: start + .seconds(120)).isEmpty, "counted once")
    }

    @Test func aNewWindowClosesTheOldOneWithoutLosingItsCount() {
        let ledger = DenialLedger(window: .seconds(60))
        let start = ContinuousClock.now
        #expect(ledger.record(source, requestID: "a", now: start))
        #expect(!ledger.record(source, requestID: "b", now: start + .seconds(1)))
        #expect(ledger.record(source, requestID: "c", now: start + .seconds(61)))
        #expect(!ledger.record(source, requestID: "d", now: start + .seconds(62)))
        #expect(ledger.drain() == [DenialLedger.Summary(source: source, count: 1, requestID: "b"),
                                   DenialLedger.Summary(source: source, count: 1, requestID: "d")])
        #expect(ledger.drain().isEmpty)
    }

    @Test func pastItsCapacityEveryDenialIsAuditedOnItsOwn() {
        let ledger = DenialLedger(window: .seconds(60), capacity: 2)
        let now = ContinuousClock.now
        for address in ["a", "b"] {
            #expect(ledger.record(DenialLedger.Source(address: address, status: 401, caller: nil, route: "/"), requestID: "", now: now))
        }
        let third = DenialLedger.Source(address: "c", status: 401, caller: nil, route: "/")
        #expect(ledger.record(third, requestID: "", now: now))
        #expect(ledger.record(third, requestID: "", now: now))
    }
}

@Suite struct TokenRefusalTests {
    @Test func onlyTheShapeGenerateMakesIsWellFormed() {
        #expect(BearerToken.isWellFormed(BearerToken.generate()))
        for token in ["", "agw_", "not-a-token", "agw_" + String(repeating: "A", count: 42),
                      "agw_" + String(repeating: "A", count: 44), "agx_" + String(repeating: "A", count: 43),
                      "agw_" + String(repeating: "+", count: 43), String(repeating: "x", count: 8000)] {
            #expect(!BearerToken.isWellFormed(token), "\(token.prefix(20))")
        }
    }

    /// A malformed token costs no query; an unknown one costs one, then none.
    @Test func refusalsAreDecidedWithoutTheDatabase() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        let store = CallerStore(pool: pool)
        let unknown = BearerToken.generate()
        #expect(try await store.authenticate(token: unknown) == nil)
        await pool.close()
        // The pool is closed: any query would throw.
        #expect(try await store.authenticate(token: unknown) == nil)
        #expect(try await store.authenticate(token: "not-a-token") == nil)
        await #expect(throws: PostgresError.self) { try await store.authenticate(token: BearerToken.generate()) }
        await database.drop()
    }
}

@Suite(.serialized) struct DenialRouteTests {
    @Test func aFloodOfBadTokensIsAccountedForInTwoEvents() async throws {
        try await GatewayHarness.with { h in
            for _ in 0..<50 {
                #expect(try await h.request("GET", "/accounts/u1", token: "agw_" + String(repeating: "Z", count: 43)).status == 401)
            }
            let before = try await h.pool.query("SELECT count(*) AS n FROM audit_events WHERE action = 'auth.denied'")
            #expect(try before.rows.first?.int("n") == 1)
            await h.app.auditDenialCounts(all: true)
            let rows = try await h.pool.query(
                "SELECT attempt, outcome, http_status, route FROM audit_events WHERE action = 'auth.denied' ORDER BY id").rows
            #expect(try rows.map { try $0.int("attempt") } == [1, 49])
            #expect(try rows.map { try $0.optionalString("route") } == ["/accounts/{user_id}", "/accounts/{user_id}"])
            #expect(try await AuditVerifier(pool: h.pool).verify().firstBroken == nil, "the route is in the chain")
            #expect(try rows.allSatisfy { try $0.string("outcome") == "unauthenticated" && $0.int("http_status") == 401 })
        }
    }

    @Test func aForbiddenCallerIsNamedInItsDenial() async throws {
        try await GatewayHarness.with { h in
            #expect(try await h.request("GET", "/audit", token: h.importerToken).status == 403)
            let row = try #require(try await h.pool.query(
                "SELECT caller, outcome, route FROM audit_events WHERE action = 'auth.denied'").rows.first)
            #expect(try row.optionalString("caller") == "test-importer")
            #expect(try row.optionalString("route") == "/audit")
            let page = try await h.request("GET", "/audit?action=auth.denied", token: h.auditorToken)
            let events = try #require((try JSONSerialization.jsonObject(with: page.body) as? [String: Any])?["events"] as? [[String: Any]])
            #expect(events.first?["route"] as? String == "/audit")
            #expect(try row.string("outcome") == "forbidden")
        }
    }
}

@Suite(.serialized) struct AuditQueryBoundsTests {
    @Test func perCallerLimitCountsAndReleases() {
        let limit = PerCallerLimit(limit: 2)
        #expect(limit.tryAcquire("a") && limit.tryAcquire("a"))
        #expect(!limit.tryAcquire("a"))
        #expect(limit.tryAcquire("b"))
        limit.release("a")
        #expect(limit.tryAcquire("a"))
    }

    @Test func aThirdConcurrentQueryOfOneAuditorIs429() async throws {
        try await GatewayHarness.with { h in
            #expect(h.app.auditQueries.tryAcquire("test-auditor") && h.app.auditQueries.tryAcquire("test-auditor"))
            let busy = try await h.request("GET", "/audit", token: h.auditorToken)
            #expect(busy.status == 429)
            #expect(busy.header("Retry-After") == "1")
            h.app.auditQueries.release("test-auditor")
            #expect(try await h.request("GET", "/audit", token: h.auditorToken).status == 200)
            h.app.auditQueries.release("test-auditor")
        }
    }

    /// A statement the server cancels for its timeout answers 503 query-timed-out, not 500.
    @Test func aCancelledStatementIs503() async throws {
        let database = try await TestDatabase.create()
        let pool = database.pool(size: 1)
        var cancelled: Error?
        do {
            _ = try await pool.withTransaction { connection in
                _ = try connection.query("SET LOCAL statement_timeout = '10ms'")
                return try connection.query("SELECT pg_sleep(1)")
            }
        } catch {
            cancelled = error
        }
        await pool.close()
        await database.drop()
        let error = try #require(cancelled)
        try await GatewayHarness.with { h in
            let context = RequestContext(requestID: "r", logger: TestLogger.make(), started: .now)
            let response = h.app.mapUnexpected(error, context: context)
            #expect(response.status == 503)
            #expect(String(decoding: response.body, as: UTF8.self).contains("query-timed-out"))
        }
    }
}
