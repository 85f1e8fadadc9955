import Logging
import PostgresClient
import Synchronization

/// Group commit: an item submitted while a write is under way waits for it and
/// goes out with the next write, together with every item submitted meanwhile;
/// alone, an item is written at once. Writes that chain audit events hold the
/// chain's lock through their commit, so separate writes cannot share a flush:
/// one statement for many items is what lets them keep up (`AuditLog` for
/// request events, `CallRecorder` for upstream outcomes).
///
/// A batch the database refuses (not a lost connection) is written again item
/// by item, so one bad item fails alone.
final class GroupCommit<Item: Sendable, Output: Sendable>: Sendable {
    /// Writes the items in one statement; returns one output per item, in order.
    typealias Write = @Sendable ([Item]) async throws -> [Output]
    /// How many items from the front of the queue go in the next write (at least one when any wait).
    typealias NextBatch = @Sendable ([Item]) -> Int

    private let write: Write
    private let nextBatch: NextBatch
    private let logger: Logger
    /// What a batch is, for the log line when one is refused ("audit batch", …).
    private let batchName: String

    private struct Pending {
        var item: Item
        var continuation: CheckedContinuation<Output, Error>
    }

    private struct State {
        var queue: [Pending] = []
        var writing = false
    }

    private let state = Mutex(State())

    init(_ batchName: String, logger: Logger, nextBatch: @escaping NextBatch, write: @escaping Write) {
        self.batchName = batchName
        self.logger = logger
        self.nextBatch = nextBatch
        self.write = write
    }

    /// Writes the item, returning its output once committed.
    func submit(_ item: Item) async throws -> Output {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Output, Error>) in
            let startWriter = state.withLock { state in
                state.queue.append(Pending(item: item, continuation: continuation))
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
                let count = state.queue.isEmpty ? 0 : max(1, nextBatch(state.queue.map(\.item)))
                let batch = Array(state.queue.prefix(count))
                state.queue.removeFirst(batch.count)
                if batch.isEmpty { state.writing = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            do {
                try await writeResuming(batch)
            } catch let error as PostgresError where batch.count > 1 && !error.isConnectionProblem {
                logger.warning("\(batchName) refused; writing its items one by one", metadata: .error(error))
                for pending in batch {
                    do { try await writeResuming([pending]) } catch { pending.continuation.resume(throwing: error) }
                }
            } catch {
                for pending in batch { pending.continuation.resume(throwing: error) }
            }
        }
    }

    private func writeResuming(_ batch: [Pending]) async throws {
        let outputs = try await write(batch.map(\.item))
        precondition(outputs.count == batch.count, "a group write must give one output per item")
        for (pending, output) in zip(batch, outputs) { pending.continuation.resume(returning: output) }
    }
}
