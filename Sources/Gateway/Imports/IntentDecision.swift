/// What a request for an account that exists already does to it: pure, so
/// every case is unit-tested without a database (`ImportService.decideIntent`
/// carries it out under the row's lock).
enum IntentDecision: Equatable, Sendable {
    /// Imported with this profile: nothing to store, no upstream call.
    case unchanged
    /// Over the backlog quota: nothing is stored (429).
    case refuse
    /// Pending with this profile already: only named as the latest asker, so its
    /// upstream event and a resumed `import` find this request.
    case touch
    /// Queued again with the merged profile; attempts start over unless it was
    /// pending already. `wasImported`: a profile change of an imported account (200, not 201).
    case requeue(nick: String?, faceURL: String?, resetAttempts: Bool, wasImported: Bool)

    static func decide(_ input: AccountInput, existing: Account, overQuota: Bool) -> IntentDecision {
        let changed = existing.changes(input)
        if existing.status == .imported && !changed { return .unchanged }
        if overQuota { return .refuse }
        if existing.status == .pending && !changed { return .touch }
        let profile = existing.merging(input)
        return .requeue(nick: profile.nick, faceURL: profile.faceURL, resetAttempts: existing.status != .pending,
                        wasImported: existing.status == .imported)
    }
}
