import Logging

/// Records upstream calls' outcomes with group commit (`GroupCommit`): calls
/// that finish while a record is being written go together in the next
/// statement. Each record chains audit events under the chain's lock until its
/// commit, so this is what lets single requests' calls (up to 200 a second)
/// and batches record at the rate they finish. Alone, a call is recorded at once.
final class CallRecorder: Sendable {
    /// Records calls in one statement (`LeaseStore.record`), returning the accounts it changed.
    typealias Write = @Sendable ([ImportDelivery.RecordedCall]) async throws -> [Account]

    private let writes: GroupCommit<ImportDelivery.RecordedCall, [Account]>

    /// - Parameter maxOutcomes: accounts per statement at most (a batch's record can be 100 on its own).
    init(logger: Logger, maxOutcomes: Int = 1_000, write: @escaping Write) {
        writes = GroupCommit("batched record", logger: logger, nextBatch: { calls in
            Self.nextBatch(calls, maxOutcomes: maxOutcomes) { $0.outcomes.map(\.userID) }.count
        }) { calls in
            // Each call gets back its own accounts.
            let changed = try await write(calls)
            return calls.map { call in
                let mine = Set(call.outcomes.map(\.userID))
                return changed.filter { mine.contains($0.userID) }
            }
        }
    }

    /// Records the call, returning the accounts it changed as they now are, once committed.
    func record(_ call: ImportDelivery.RecordedCall) async throws -> [Account] {
        try await writes.submit(call)
    }

    /// The calls at the front of the queue that can share a statement: at most
    /// `maxOutcomes` accounts (the first call always goes), none recorded twice.
    static func nextBatch<Item>(_ queue: [Item], maxOutcomes: Int, outcomes: (Item) -> [String]) -> [Item] {
        var batch: [Item] = []
        var seen = Set<String>()
        var count = 0
        for item in queue {
            let userIDs = outcomes(item)
            let distinct = seen.isDisjoint(with: userIDs) && Set(userIDs).count == userIDs.count
            guard batch.isEmpty || (count + userIDs.count <= maxOutcomes && distinct) else { break }
            batch.append(item)
            seen.formUnion(userIDs)
            count += userIDs.count
        }
        return batch
    }
}
