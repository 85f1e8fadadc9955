import Foundation
import Logging
import PostgresClient

/// The request path of `POST /accounts`: store the intent durably, try to
/// deliver it within the caller's wait budget, answer with what is known.
struct ImportService: Sendable {
    /// Where intents are stored and outcomes read.
    let pool: PostgresPool
    let delivery: ImportDelivery
    /// How long a request waits for its account's outcome before answering 202.
    let wait: Duration
    /// How often a waiting request looks at the row, to see other replicas' outcomes.
    var pollInterval: Duration = .milliseconds(200)
    let quota: BacklogQuota
    let logger: Logger
    /// Answers repeats of accounts already imported as asked, in shared statements.
    let repeats: RepeatLookup
    /// Stores concurrent requests' intents in shared statements.
    let intents: IntentWriter
    /// `importAccount` calls under way in this replica.
    let inFlight = InFlightCounter()

    private var signals: OutcomeSignals { delivery.signals }

    /// The answer to one import request.
    struct Outcome: Sendable {
        enum Kind: String, Sendable {
            /// Imported by this request.
            case imported
            /// Already imported with this profile; no upstream call.
            case alreadyImported = "already_imported"
            /// An imported account re-imported with a changed profile.
            case updated
            /// Stored, not yet confirmed.
            case pending
            /// Tencent refused it for good.
            case rejected

            var auditOutcome: AuditEvent.Outcome {
                switch self {
                case .imported: .imported
                case .alreadyImported: .alreadyImported
                case .updated: .updated
                case .pending: .pending
                case .rejected: .rejected
                }
            }
        }

        var kind: Kind
        var account: Account
        /// The request's own audit event was written with the outcome (see `RequestEventOffer`).
        var eventRecorded = false
    }

    /// What the first transaction found and did.
    enum Intent {
        case unchanged(Account)
        case queued(Account, wasImported: Bool)

        var account: Account {
            switch self {
            case .unchanged(let account), .queued(let account, _): account
            }
        }
    }

    /// `requestEvent`: the request's audit event, recorded with the outcome when
    /// this request delivers a new account and its answer is final (`Outcome.eventRecorded`).
    /// `repeatEvent`: the same event as `RepeatLookup` writes it when the account
    /// is already imported as asked (then `Outcome.eventRecorded` too).
    func importAccount(_ input: AccountInput, caller: String, requestID: String,
                       requestEvent: RequestEventOffer? = nil, repeatEvent: RepeatLookup.Event? = nil) async throws -> Outcome {
        let deadline = ContinuousClock.now + wait
        inFlight.add(1)
        defer { inFlight.add(-1) }
        // While other requests are under way, a repeat of an account imported as
        // asked is answered, and audited, by a statement it shares with them. Alone,
        // a request goes straight to the statement that may also create its account:
        // for a new account the lookup would be a round trip more (and under a
        // flood of new accounts it is skipped: `RepeatLookup.worthAsking`).
        if let repeatEvent, inFlight.value > 1, repeats.worthAsking(),
           let account = try await repeats.answer(input, event: repeatEvent) {
            return Outcome(kind: .alreadyImported, account: account, eventRecorded: true)
        }
        // Over its backlog quota, a caller may still ask about accounts already
        // imported as asked (200, no upstream call); anything to queue gets 429.
        let refusal = quota.refusal(for: caller)
        // A new account is claimed in the statement that stores it, so this request
        // delivers it with no further round trip. When account_import's budget is
        // reserved beyond the first half of the wait, or beyond the batch budget's
        // next slot, this replica's worker coalesces it: the claim goes straight to
        // its batch queue, and the request's event with that call's record.
        let latestSlot = slotDeadline(deadline)
        let callDeadline = delivery.singleCallDeadline(before: latestSlot)
        let servable = delivery.importLimiter.mayServe(before: callDeadline)
        let coalesce = !servable && delivery.batchQueue.isOpen && delivery.batchLimiter.mayServe(before: latestSlot)
        // While the breaker is open, or a 70050 pauses every call past the deadline, no call
        // can go out in time: store the intent and answer 202 at once.
        let callsHeld = await delivery.callsHeld(through: deadline)
        let deliverNow = refusal == nil && (servable || coalesce) && !callsHeld
        let owner = delivery.owner
        // Alone, the claimed account's call slot is reserved in the same statement: a
        // round trip less. Not while other imports are under way: the reservation
        // locks the budget's row until the insert commits, so statements that
        // reserve take turns at one commit each, while the limiter reserves
        // for all of this replica's waiting requests in one short statement.
        let limiter = delivery.importLimiter
        let slot = servable && limiter.reservesInPostgres && inFlight.value <= 1
            ? AccountStore.SlotRequest(api: limiter.api.rawValue, rate: limiter.rate,
                                       maxWaitMilliseconds: (callDeadline - .now).milliseconds)
            : nil
        let found: AccountStore.Found?
        if let slot, deliverNow {
            found = try await pool.withConnection { connection in
                try AccountStore.insertOrFind(input, requestID: requestID, caller: caller, insert: refusal == nil,
                                              claimFor: owner, reserving: slot, on: connection)
            }
        } else {
            found = try await intents.insertOrFind(IntentWriter.Request(
                input: input, requestID: requestID, caller: caller, insert: refusal == nil, claimFor: deliverNow ? owner : nil))
        }
        let intent: Intent
        switch found {
        case .created(let account, claimed: true, let reserved):
            let claim = ImportDelivery.Claim(account: account, requestID: requestID, caller: caller, bulk: false,
                                             requestEvent: requestEvent)
            let queued = !servable && delivery.queueForBatch(claim)
            return await follow(account, wasImported: false, deadline: deadline, claim: claim, reserved: reserved, queued: queued)
        case .created(let account, claimed: false, _):
            intent = .queued(account, wasImported: false)
        case .existing(let account) where account.status == .imported && !account.changes(input):
            intent = .unchanged(account)
        case .existing(let account) where account.status == .pending && !account.changes(input) && refusal == nil:
            intent = .queued(account, wasImported: false)
        case .existing, nil:
            // A changed profile, a failed account, a race with another insert: decided under the row's lock.
            intent = try await pool.withTransaction { connection in
                try Self.decideIntent(input, refusal: refusal, caller: caller, requestID: requestID, bulk: false, on: connection)
            }
        }
        switch intent {
        case .unchanged(let account):
            return Outcome(kind: .alreadyImported, account: account)
        case .queued(let account, _) where callsHeld:
            return Outcome(kind: .pending, account: account)
        case .queued(let account, let wasImported):
            return await follow(account, wasImported: wasImported, deadline: deadline, claim: nil, reserved: nil)
        }
    }

    /// Delivers the claim, or follows someone else's delivery, until the deadline.
    /// `queued`: the claim is in the worker's batch queue already; the request only waits for its outcome.
    private func follow(_ account: Account, wasImported: Bool, deadline: ContinuousClock.Instant,
                        claim: ImportDelivery.Claim?, reserved: RateLimiter.Reserved?, queued: Bool = false) async -> Outcome {
        var resolved: Account?
        do {
            resolved = try await awaitResolution(of: account, deadline: deadline, claim: claim, reserved: reserved, queued: queued)
        } catch {
            // The intent is committed: whatever fails now, the worker finishes the import.
            logger.warning("cannot follow the import; answering pending", metadata: [
                "account.user_id": "\(account.userID)",
            ].adding(error))
        }
        // Who writes the request's event is settled here: a delivery (its own attempt, or the
        // batch call its claim went to) still recording it is waited for, and then the
        // answer is the outcome recorded with the event.
        let written = await claim?.requestEvent?.close()
        let eventRecorded = written != nil
        guard let final = written ?? resolved else { return Outcome(kind: .pending, account: account) }
        switch final.status {
        case .imported: return Outcome(kind: wasImported ? .updated : .imported, account: final, eventRecorded: eventRecorded)
        case .failed: return Outcome(kind: .rejected, account: final, eventRecorded: eventRecorded)
        case .pending: return Outcome(kind: .pending, account: final)
        }
    }

    /// Stores one account's intent inside the caller's transaction, once the
    /// caller's insert found its user_id or chat_user_id taken: a requeue with
    /// the merged profile, nothing when it is imported as asked, or a new row
    /// after all when a concurrent insert rolled back.
    static func decideIntent(_ input: AccountInput, refusal: QuotaExceeded?, caller: String, requestID: String, bulk: Bool,
                             on connection: PostgresConnection) throws -> Intent {
        var found = try AccountStore.lock(input.userID, on: connection)
        if found == nil, refusal == nil {
            // The caller's insert found the user_id taken, yet no row is there now: a
            // concurrent insert rolled back. Store it after all.
            if let created = try AccountStore.insertPending(input, requestID: requestID, caller: caller, bulk: bulk, on: connection) {
                return .queued(created, wasImported: false)
            }
            found = try AccountStore.lock(input.userID, on: connection)
        }
        guard let existing = found else {
            if let refusal { throw refusal }
            if let other = try AccountStore.owner(ofChatUserID: input.chatUserID, on: connection), other != input.userID {
                throw AccountConflict(message: "chat_user_id \(input.chatUserID) is already mapped to another user_id.")
            }
            // Inserted by a concurrent request that then rolled back; ask the caller to retry.
            throw AccountConflict(message: "The account was being changed concurrently; retry the request.")
        }
        switch IntentDecision.decide(input, existing: existing, overQuota: refusal != nil) {
        case .unchanged:
            return .unchanged(existing)
        case .refuse:
            guard let refusal else { preconditionFailure("a request within its quota was refused") }
            throw refusal
        case .touch:
            try AccountStore.touch(input.userID, requestID: requestID, caller: caller, bulk: bulk, on: connection)
            return .queued(existing, wasImported: false)
        case .requeue(let nick, let faceURL, let resetAttempts, let wasImported):
            let requeued = try AccountStore.requeue(
                input.userID, nick: nick, faceURL: faceURL, requestID: requestID, caller: caller, bulk: bulk,
                resetAttempts: resetAttempts, on: connection)
            return .queued(requeued, wasImported: wasImported)
        }
    }

    /// Stores the intents of distinct accounts asked for in bulk (a batch, an
    /// `import`) in one transaction: every new
    /// account in one set-based INSERT, then the few that exist already under
    /// their row locks (in user_id order, so overlapping batches cannot
    /// deadlock). Returns each input's intent, in the inputs' order.
    static func storeIntents(_ inputs: [AccountInput], refusal: QuotaExceeded?, caller: String, requestID: String,
                             on connection: PostgresConnection) throws -> [Intent] {
        var intents: [UserIDKey: Intent] = [:]
        if refusal == nil {
            for account in try AccountStore.insertPending(inputs, requestID: requestID, caller: caller, on: connection) {
                intents[UserIDKey(account.userID)] = .queued(account, wasImported: false)
            }
        }
        for input in inputs.sorted(by: { UserIDKey.precedes($0.userID, $1.userID) }) {
            let key = UserIDKey(input.userID)
            guard intents[key] == nil else { continue }
            intents[key] = try decideIntent(input, refusal: refusal, caller: caller, requestID: requestID, bulk: true,
                                            on: connection)
        }
        return inputs.compactMap { intents[UserIDKey($0.userID)] }
    }

    /// `POST /accounts/batch`: every intent in one transaction, then the new and
    /// changed accounts through multiaccount_import (100 per call) within the
    /// wait; answers each account's state, in request order.
    func importBatch(_ inputs: [AccountInput], caller: String, requestID: String) async throws -> [Account] {
        let refusal = quota.refusal(for: caller)
        let intents = try await pool.withTransaction { connection in
            try Self.storeIntents(inputs, refusal: refusal, caller: caller, requestID: requestID, on: connection)
        }
        let stored = intents.map(\.account)
        let queued = intents.compactMap { intent -> String? in
            if case .queued(let account, _) = intent { return account.userID }
            return nil
        }
        let deadline = ContinuousClock.now + wait
        // While the breaker is open or a 70050 pauses the calls, the stored intents are the answer (202 at once).
        if await delivery.callsHeld(through: deadline) { return stored }
        do {
            let claims = try await delivery.claim(queued)
            if !claims.isEmpty {
                let attempt = Task(priority: .high) { await delivery.deliverBatch(claims, permitDeadline: deadline) }
                await attempt.finish(within: max(deadline - .now, .zero))
            }
            let current = try await AccountStore.fetch(stored.map(\.userID), on: pool)
            return stored.map { current[UserIDKey($0.userID)] ?? $0 }
        } catch {
            // The intents are committed: whatever fails now, the worker finishes the imports.
            logger.warning("cannot follow the batch; answering what was stored",
                           metadata: ["request_id": "\(requestID)"].adding(error))
            return stored
        }
    }

    /// The latest slot a request takes for its own call: within the first half
    /// of its wait, so the call and its record fit before the answer is due. A
    /// later slot is left to the worker, which can coalesce the account through
    /// the batch budget at once.
    private func slotDeadline(_ deadline: ContinuousClock.Instant) -> ContinuousClock.Instant {
        deadline - wait / 2
    }

    /// The latest slot for the account's own call: within the first half of the
    /// wait and, through account_import, no later than a batch call could carry it.
    private func callDeadline(for account: Account, deadline: ContinuousClock.Instant) -> ContinuousClock.Instant {
        let latest = slotDeadline(deadline)
        return delivery.limiter(for: account) === delivery.importLimiter ? delivery.singleCallDeadline(before: latest) : latest
    }

    /// Delivers `claim` when given (at the `reserved` slot, when its statement
    /// reserved one), otherwise attempts delivery whenever the
    /// account is due and free, and waits for someone's outcome in between, until
    /// it resolves or the deadline passes. When the account's own API cannot
    /// serve it before the deadline, the request leaves it to the worker, which
    /// coalesces it through the batch budget, and waits for that outcome.
    private func awaitResolution(of account: Account, deadline: ContinuousClock.Instant, claim first: ImportDelivery.Claim?,
                                 reserved: RateLimiter.Reserved?, queued: Bool) async throws -> Account {
        // A claim in the worker's batch queue is delivered there: this request only waits.
        var selfDelivers = first != nil && !queued
        if first == nil {
            selfDelivers = delivery.limiter(for: account).mayServe(before: callDeadline(for: account, deadline: deadline))
            if !selfDelivers {
                // Both budgets reserved beyond the deadline: waiting could not change
                // the answer, so 202 at once, and the budget goes to the backlog first.
                let batchSoon = delivery.batchLimiter.mayServe(before: deadline)
                guard batchSoon else { return account }
                delivery.doorbell.ring()
            }
        }
        let userID = account.userID
        var claim = queued ? nil : first
        var reserved = reserved
        // A claim in this replica's batch queue ends in a signal from here (its record, or
        // its give-back): until that first wake-up, other replicas' outcomes need no asking.
        var watched = !queued
        while true {
            let remaining = deadline - .now
            if claim == nil && selfDelivers { claim = try await delivery.claim(userID) }
            if let current = claim {
                claim = nil
                // Unstructured: the attempt completes and is recorded even if
                // this request answers 202 before it does.
                let slotDeadline = callDeadline(for: current.account, deadline: deadline)
                let slot = reserved
                reserved = nil
                let attempt = Task(priority: .high) { await delivery.deliver(current, permitDeadline: slotDeadline, reserved: slot) }
                // The recorded outcome comes back with the attempt: no read needed. Nil when
                // the attempt ran out of time here, or ended without a record.
                var result = await attempt.value(within: max(remaining, .zero)) ?? nil
                // No outcome (yet): who writes the request's event, unless its claim is still queued.
                let offer = result == nil ? current.requestEvent?.withdraw() : nil
                if offer == .taken {
                    // A record is writing this request's event with its outcome (this attempt's,
                    // or the batch call's its claim went to): the answer must be that outcome,
                    // a round trip away.
                    result = await attempt.value
                    if result == nil, let recorded = await current.requestEvent?.close() { return recorded }
                }
                guard let recorded = result else {
                    // No slot in time (or no record): from now on the worker delivers it.
                    selfDelivers = false
                    // Still in this replica's batch queue: its record or give-back signals here.
                    watched = offer != .queued
                    continue
                }
                if recorded.status != .pending || ContinuousClock.now >= deadline { return recorded }
                // Misconfiguration opened the breaker, or a 70050 paused every call: nothing will change before the deadline.
                if await delivery.callsHeld(through: deadline) { return recorded }
            } else if remaining > .zero {
                if let recorded = first?.requestEvent?.written { return recorded }
                await signals.wait(for: userID, timeout: min(remaining, pollInterval), watched: watched)
                watched = true
            }
            // A batch call that carried the account recorded the outcome with this request's event: no read needed.
            if let recorded = first?.requestEvent?.written { return recorded }
            guard let account = try await pool.withConnection({ try AccountStore.fetch(userID, on: $0) }) else {
                // Accounts are never deleted: a vanished row is a bug, answered 500 and logged.
                throw PostgresError.decoding(column: "user_id", message: "account \(userID) vanished while followed")
            }
            if account.status != .pending || ContinuousClock.now >= deadline {
                return account
            }
        }
    }
}
