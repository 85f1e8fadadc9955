import Logging
import PostgresClient
import Synchronization

/// Records upstream calls' outcomes with group commit: a call that finishes
/// while a record is being written waits for it and goes with the next
/// statement, together with every other call that finished meanwhile. Each
/// record chains audit events, and the chain's lock is held through the
/// commit, so chained transactions cannot share a flush: one statement for
/// many calls is what lets single requests' calls (up to 200 a second) and
/// batches' record at the rate they finish. Alone, a call is recorded at once.
final class CallRecorder: Sendable {
    /// Records calls in one statement (`LeaseStore.record`), returning the accounts it changed.
    typealias Write = @Sendable ([ImportDelivery.RecordedCall]) async throws -> [Account]

    private let writeCalls: Write
    private let logger: Logger
    /// Accounts per statement at most (a batch's record can be 100 on its own).
    private let maxOutcomes: Int

    private struct Pending {
        var call: ImportDelivery.RecordedCall
        var continuation: CheckedContinuation<[Account], Error>
    }

    private struct State {
        var queue: [Pending] = []
        var writing = false
    }

    private let state = Mutex(State())

    init(logger: Logger, maxOutcomes: Int = 1_000, write: @escaping Write) {
        self.writeCalls = write
        self.logger = logger
        self.maxOutcomes = maxOutcomes
    }

    /// Records the call, returning the accounts it changed as they now are, once committed.
    func record(_ call: ImportDelivery.RecordedCall) async throws -> [Account] {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<[Account], Error>) in
            let startWriter = state.withLock { state in
                state.queue.append(Pending(call: call, continuation: continuation))
                defer { state.writing = true }
                return !state.writing
            }
            if startWriter { Task { await self.writeQueued() } }
        }
    }

    /// Writes batches until the queue is empty.
    private func writeQueued() async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                let batch = Self.nextBatch(state.queue, maxOutcomes: maxOutcomes)
                state.queue.removeFirst(batch.count)
                if batch.isEmpty { state.writing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                try await write(batch)
            } catch let error as PostgresError where batch.count > 1 && !error.isConnectionProblem {
                // One call's record must not fail the others': each alone.
                logger.warning("batched record refused; recording its calls one by one", metadata: .error(error))
                for pending in batch {
                    do { try await write([pending]) } catch { pending.continuation.resume(throwing: error) }
                }
            } catch {
                for pending in batch { pending.continuation.resume(throwing: error) }
            }
        }
    }

    /// One statement for the batch; each call gets back its own accounts.
    private func write(_ batch: [Pending]) async throws {
        let changed = try await writeCalls(batch.map(\.call))
        for pending in batch {
            let mine = Set(pending.call.outcomes.map(\.userID))
            pending.continuation.resume(returning: changed.filter { mine.contains($0.userID) })
        }
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

    private static func nextBatch(_ queue: [Pending], maxOutcomes: Int) -> [Pending] {
        nextBatch(queue, maxOutcomes: maxOutcomes) { $0.call.outcomes.map(\.userID) }
    }
}
