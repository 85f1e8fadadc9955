import Foundation
import Synchronization
@testable import Gateway

/// `LeaseStore` in memory: the rules of `Lease` and `OutcomeRow` applied to
/// rows kept in a dictionary, so delivery's decisions are tested without
/// PostgreSQL (`LeaseStoreTests` checks that the SQL store agrees with it).
final class MemoryLeaseStore: LeaseStore {
    struct Row: Sendable {
        var account: Account
        var nextAttemptAt = Date()
        var leaseOwner: String?
        var leaseUntil: Date?
        var unexplainedAttempts = 0
        var requestID: String?
        var caller: String?
        var bulk = false
    }

    private let state = Mutex<(rows: [String: Row], events: [AuditEvent])>(([:], []))

    /// Adds a pending account, due now and held by nobody, unless `row` says otherwise.
    func add(_ userID: String, nick: String? = nil, _ change: (inout Row) -> Void = { _ in }) {
        let now = Date()
        var row = Row(account: Account(userID: userID, chatUserID: "c-\(userID)", nick: nick, faceURL: nil, status: .pending,
                                       createdAt: now, updatedAt: now, importedAt: nil, attempts: 0, lastError: nil,
                                       upstreamExists: false))
        change(&row)
        state.withLock { $0.rows[userID] = row }
    }

    func row(_ userID: String) -> Row? { state.withLock { $0.rows[userID] } }
    var events: [AuditEvent] { state.withLock { $0.events } }

    func claim(_ userIDs: [String], owner: String) async throws -> [ImportDelivery.Claim] {
        let now = Date()
        return state.withLock { state in userIDs.compactMap { Self.take(&state.rows, $0, owner: owner, now: now) } }
    }

    func claimDue(limit: Int, owner: String) async throws -> [ImportDelivery.Claim] {
        let now = Date()
        return state.withLock { state in
            let due = state.rows.values
                .filter { Lease.isClaimable(status: $0.account.status, nextAttemptAt: $0.nextAttemptAt, leaseUntil: $0.leaseUntil, now: now) }
                .sorted { $0.nextAttemptAt < $1.nextAttemptAt }
                .prefix(limit)
            return due.compactMap { Self.take(&state.rows, $0.account.userID, owner: owner, now: now) }
        }
    }

    private static func take(_ rows: inout [String: Row], _ userID: String, owner: String, now: Date) -> ImportDelivery.Claim? {
        guard var row = rows[userID],
              Lease.isClaimable(status: row.account.status, nextAttemptAt: row.nextAttemptAt, leaseUntil: row.leaseUntil, now: now)
        else { return nil }
        row.leaseOwner = owner
        row.leaseUntil = now + TimeInterval(Lease.seconds)
        row.account.attempts += 1
        rows[userID] = row
        return ImportDelivery.Claim(account: row.account, requestID: row.requestID, caller: row.caller, bulk: row.bulk)
    }

    func giveBack(_ userIDs: [String], owner: String, dueIn delay: Duration) async throws {
        let due = Date() + max(delay.seconds, 0.01)
        state.withLock { state in
            for userID in userIDs {
                guard var row = state.rows[userID], row.account.status == .pending, row.leaseOwner == owner else { continue }
                row.account.attempts = max(row.account.attempts - 1, 0)
                (row.leaseOwner, row.leaseUntil, row.nextAttemptAt) = (nil, nil, due)
                state.rows[userID] = row
            }
        }
    }

    func record(_ calls: [ImportDelivery.RecordedCall], owner: String, maxUnexplained: Int) async throws -> [Account] {
        let now = Date()
        return state.withLock { state in
            var changed: [Account] = []
            for call in calls {
                for outcome in call.outcomes {
                    guard var row = state.rows[outcome.userID], row.account.status == .pending else { continue }
                    let (nick, faceURL) = (row.account.nick, row.account.faceURL)
                    row.account.status = outcome.status(currentNick: nick, currentFaceURL: faceURL,
                                                        unexplainedAttempts: row.unexplainedAttempts, maxUnexplained: maxUnexplained)
                    if outcome.confirms(currentNick: nick, currentFaceURL: faceURL) { row.account.importedAt = now }
                    row.account.upstreamExists = row.account.upstreamExists || outcome.imported
                    row.account.lastError = outcome.code.map { Account.UpstreamError(code: $0, info: outcome.info ?? "") }
                    row.unexplainedAttempts += outcome.unexplained ? 1 : 0
                    row.nextAttemptAt = now + Double(outcome.delayMilliseconds) / 1000
                    if row.leaseOwner == owner { (row.leaseOwner, row.leaseUntil) = (nil, nil) }
                    row.account.updatedAt = now
                    state.rows[outcome.userID] = row
                    changed.append(row.account)
                }
            }
            // The events in call order, each call's request events after it on their conditions (as in SQL, after every update).
            for call in calls {
                state.events.append(call.event)
                for request in call.requestEvents
                where changed.contains(where: { $0.userID == request.userID && $0.status == request.status }) {
                    state.events.append(request.event)
                }
            }
            return changed
        }
    }

    func releaseAll(owner: String) async throws -> Int {
        state.withLock { state in
            var released = 0
            for (userID, var row) in state.rows where row.leaseOwner == owner && row.account.status == .pending {
                (row.leaseOwner, row.leaseUntil) = (nil, nil)
                state.rows[userID] = row
                released += 1
            }
            return released
        }
    }
}

/// `BreakerStore` in memory: one optional row, as `upstream_breaker` holds.
final class MemoryBreakerStore: BreakerStore {
    private struct Stored {
        var state: BreakerState
        var interval: Int
        var nextProbe: Date
    }

    private let stored = Mutex<Stored?>(nil)
    /// How long a read takes (a busy database).
    let readDelay = Mutex<Duration>(.zero)

    var isOpen: Bool { stored.withLock { $0 != nil } }

    /// Opens it with the next probe `probeIn` away.
    func openNow(code: Int, probeIn: TimeInterval) {
        stored.withLock { $0 = Stored(state: BreakerState(code: code, reason: "test", openedAt: Date()), interval: 30,
                                      nextProbe: Date() + probeIn) }
    }

    func read() async throws -> (open: BreakerState, probeIn: Duration)? {
        let delay = readDelay.withLock { $0 }
        if delay > .zero { try await Task.sleep(for: delay) }
        return stored.withLock { stored in
            stored.map { ($0.state, .milliseconds(max(0, Int($0.nextProbe.timeIntervalSinceNow * 1000)))) }
        }
    }

    func takeProbe() async throws -> Int? {
        stored.withLock { stored in
            guard var open = stored, open.nextProbe <= Date() else { return nil }
            open.nextProbe = Date() + TimeInterval(open.interval)
            stored = open
            return open.interval
        }
    }

    func open(code: Int?, reason: String, probe: Bool, firstInterval: Int, maxInterval: Int) async throws -> (interval: Int, opened: Bool) {
        stored.withLock { stored in
            guard var open = stored else {
                stored = Stored(state: BreakerState(code: code, reason: reason, openedAt: Date()), interval: firstInterval,
                                nextProbe: Date() + TimeInterval(firstInterval))
                return (firstInterval, true)
            }
            open.state.code = code
            open.state.reason = reason
            if probe {
                open.interval = min(maxInterval, open.interval * 2)
                open.nextProbe = Date() + TimeInterval(open.interval)
            }
            stored = open
            return (open.interval, false)
        }
    }

    func close() async throws -> (wasOpen: Bool, code: Int?) {
        stored.withLock { stored in
            defer { stored = nil }
            return (stored != nil, stored?.state.code)
        }
    }

    func probeSoon(firstInterval: Int) async throws {
        stored.withLock { stored in
            stored?.nextProbe = Date()
            stored?.interval = firstInterval
        }
    }
}
