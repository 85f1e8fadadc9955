import Foundation

/// The rules of a delivery lease, which every `LeaseStore` applies (the SQL of
/// `PostgresLeaseStore` spells the same conditions).
enum Lease {
    /// How long a claim is held before others may take the account over;
    /// longer than the upstream call's total timeout.
    static let seconds = 30

    /// Whether an account may be claimed now: pending, due, and held by nobody
    /// (or by a holder whose lease has run out: it died or hung).
    static func isClaimable(status: Account.Status, nextAttemptAt: Date, leaseUntil: Date?, now: Date) -> Bool {
        guard status == .pending, nextAttemptAt <= now else { return false }
        guard let leaseUntil else { return true }
        return leaseUntil < now
    }
}

extension ImportDelivery.OutcomeRow {
    /// The status an outcome leaves a pending account in. Only the profile that
    /// was sent counts: if a newer request changed it meanwhile, the account
    /// stays pending for that profile. The last of the bounded unexplained
    /// answers ends the account `failed` with it.
    func status(currentNick: String?, currentFaceURL: String?, unexplainedAttempts: Int, maxUnexplained: Int) -> Account.Status {
        if currentNick != nick || currentFaceURL != faceURL { return .pending }
        if unexplained && unexplainedAttempts + 1 >= maxUnexplained { return .failed }
        return status
    }

    /// Whether the account counts as imported with the profile it has now.
    func confirms(currentNick: String?, currentFaceURL: String?) -> Bool {
        imported && currentNick == nick && currentFaceURL == faceURL
    }
}
