import Foundation

/// Everything the sandbox remembers; lives behind the service's Mutex.
struct SandboxState {
    var random: any RandomNumberGenerator & Sendable
    var accounts: [String: SandboxAccount] = [:]
    var stats = SandboxStats()
    /// Every request routed to an API, for `maxCallsPerSecond`.
    var arrivals: [SandboxAPI: SlidingWindow] = [:]
    /// Calls admitted by the rate limiter.
    var admitted: [SandboxAPI: SlidingWindow] = [:]
    /// Failed UserSig checks per identifier.
    var signatureFailures: [String: SlidingWindow] = [:]
    var lockedUntil: [String: Double] = [:]
    var faults: SandboxFaults
    /// UserIDs removed by account_delete; importing them again answers 70399.
    var deleted: Set<String> = []
    /// Run-time codes (`setAccountCode`): imports of these UserIDs fail with them.
    var accountCodes: [String: SandboxCode] = [:]
    /// Run-time code for every routed `/v4` call (`setForcedCode`).
    var forcedCode: SandboxCode?

    init(random: any RandomNumberGenerator & Sendable, faults: SandboxFaults) {
        self.random = random
        self.faults = faults
    }

    /// Uniform in `0 ..< 1`.
    mutating func draw() -> Double {
        var generator = AnyGenerator(base: random)
        defer { random = generator.base }
        return Double.random(in: 0..<1, using: &generator)
    }

    /// True with probability `rate`; draws nothing when the knob is off,
    /// so turning one fault on does not shift the others' sequence.
    mutating func roll(_ rate: Double) -> Bool {
        rate > 0 && draw() < rate
    }

    mutating func recordArrival(_ api: SandboxAPI, at time: Double) {
        stats.calls[api.rawValue, default: 0] += 1
        var window = arrivals[api] ?? SlidingWindow(width: 1)
        window.record(time)
        let inWindow = window.count(at: time)
        arrivals[api] = window
        stats.maxCallsPerSecond[api.rawValue] = max(stats.maxCallsPerSecond[api.rawValue] ?? 0, inWindow)
    }

    /// Admits the call if fewer than `rate` were admitted in the last second.
    mutating func admit(_ api: SandboxAPI, rate: Int, at time: Double) -> Bool {
        var window = admitted[api] ?? SlidingWindow(width: 1)
        defer { admitted[api] = window }
        guard window.count(at: time) < rate else { return false }
        window.record(time)
        return true
    }

    /// Imports one account, or says why not: a run-time code set for this
    /// UserID, 70399 for a deleted UserID, 70398 beyond the edition's quota.
    /// An existing account counts as a duplicate import; its Nick/FaceUrl
    /// change only when `updateProfile` (multiaccount_import does,
    /// account_import does not), and then only the fields given.
    mutating func importAccount(
        _ userID: String, nick: String?, faceURL: String?, updateProfile: Bool, quota: Int?, at date: Date
    ) -> SandboxFailure? {
        if let code = accountCodes[userID] { return SandboxFailure(code.code, code.info) }
        if deleted.contains(userID) {
            return SandboxFailure(70399, "account was deleted and cannot be imported again yet")
        }
        if var account = accounts[userID] {
            if updateProfile {
                account.nick = nick ?? account.nick
                account.faceURL = faceURL ?? account.faceURL
            }
            account.importCount += 1
            account.lastImportedAt = date
            accounts[userID] = account
            stats.duplicateImports += 1
            return nil
        }
        if let quota, accounts.count >= quota { return SandboxFailure(70398, "account quota of this edition exceeded") }
        accounts[userID] = SandboxAccount(
            userID: userID, nick: nick, faceURL: faceURL, importCount: 1,
            firstImportedAt: date, lastImportedAt: date)
        return nil
    }

    /// Removes the account and remembers its UserID, which cannot be imported
    /// again (70399) until a reset; false when there was no such account.
    mutating func deleteAccount(_ userID: String) -> Bool {
        guard accounts.removeValue(forKey: userID) != nil else { return false }
        deleted.insert(userID)
        return true
    }
}

/// Lets an existential generator be passed where a concrete one is needed.
private struct AnyGenerator: RandomNumberGenerator {
    var base: any RandomNumberGenerator & Sendable
    mutating func next() -> UInt64 { base.next() }
}
