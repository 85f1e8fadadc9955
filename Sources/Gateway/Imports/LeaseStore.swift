import Foundation

/// What delivery needs from where accounts live: leases on due accounts, given
/// back unattempted or ended by an upstream call's outcomes, recorded together
/// with the call's audit event. The real store is PostgreSQL
/// (`PostgresLeaseStore`); the rules it applies are written once, in `Lease`
/// and `ImportDelivery.OutcomeRow`, so delivery's decisions are unit-tested on
/// an in-memory store and the SQL is tested against the same rules.
protocol LeaseStore: Sendable {
    /// Claims those of these accounts that `Lease.isClaimable`: each gets one
    /// more attempt and is held by `owner` for `Lease.seconds`.
    func claim(_ userIDs: [String], owner: String) async throws -> [ImportDelivery.Claim]
    /// Claims up to `limit` claimable accounts, oldest due first, skipping those
    /// other replicas are claiming at the same moment.
    func claimDue(limit: Int, owner: String) async throws -> [ImportDelivery.Claim]
    /// Gives `owner`'s claims of these accounts back unattempted (the attempt is
    /// not counted), due again after `delay`.
    func giveBack(_ userIDs: [String], owner: String, dueIn delay: Duration) async throws
    /// Upstream calls' outcomes and audit events, in one transaction: each
    /// call's event, then its `requestEvent` if that account ends with its
    /// status. The calls' accounts are distinct. Returns the accounts it changed, as they now are.
    func record(_ calls: [ImportDelivery.RecordedCall], owner: String, maxUnexplained: Int) async throws -> [Account]
    /// Gives back every lease `owner` holds (at shutdown). Returns how many.
    func releaseAll(owner: String) async throws -> Int
}
