import Foundation
import Synchronization
import Testing

@testable import PostgresClient

extension DatabaseTests {
    @Suite struct ListenerTests {
        /// What a listener received, for the test to look at from another task.
        final class Received: Sendable {
            let payloads = Mutex<[String]>([])
            let gaps = Mutex(0)
        }

        private func start(_ channel: String, into received: Received) throws -> Task<Void, Never> {
            let listener = PostgresListener(configuration: try TestDatabase.configuration(), channel: channel,
                                            logger: TestDatabase.logger, retryInterval: .milliseconds(100))
            return Task {
                await listener.run(onNotification: { note in
                    if note.channel == channel { received.payloads.withLock { $0.append(note.payload) } }
                }, onGap: { received.gaps.withLock { $0 += 1 } })
            }
        }

        /// Waits until the listener's session is listening (it connects on its own thread).
        private func listening(_ channel: String, _ sender: PostgresConnection) async throws {
            try await waitUntil {
                (try? sender.query("SELECT count(*) AS n FROM pg_stat_activity WHERE query = \("LISTEN " + channel)")[0]
                    .int("n")) == 1
            }
        }

        @Test func notificationsArriveInOrderAndOnlyAfterCommit() async throws {
            let channel = TestDatabase.uniqueName("listen")
            let received = Received()
            let task = try start(channel, into: received)
            let sender = try TestDatabase.connect()
            try await listening(channel, sender)
            _ = try sender.query("SELECT pg_notify(\(channel), 'one')")
            try sender.withTransaction { connection in
                _ = try connection.query("SELECT pg_notify(\(channel), 'two')")
                _ = try connection.query("SELECT pg_notify(\(channel), 'three')")
            }
            // A rolled-back transaction notifies nobody.
            _ = try? sender.withTransaction { connection in
                _ = try connection.query("SELECT pg_notify(\(channel), 'rolled back')")
                throw CancellationError()
            }
            _ = try sender.query("SELECT pg_notify(\(channel), 'four')")
            try await waitUntil { received.payloads.withLock { $0.count } >= 4 }
            #expect(received.payloads.withLock { $0 } == ["one", "two", "three", "four"])
            task.cancel()
            await task.value
        }

        @Test func aBrokenConnectionIsReplacedAndTheGapReported() async throws {
            let channel = TestDatabase.uniqueName("listen")
            let received = Received()
            let task = try start(channel, into: received)
            let sender = try TestDatabase.connect()
            try await listening(channel, sender)
            let killed = try sender.query("""
                SELECT pg_terminate_backend(pid, 5000) AS done FROM pg_stat_activity WHERE query = \("LISTEN " + channel)
                """)
            #expect(killed.rows.count == 1)
            try await waitUntil { received.gaps.withLock { $0 } == 1 }
            try await listening(channel, sender)
            _ = try sender.query("SELECT pg_notify(\(channel), 'after the gap')")
            try await waitUntil { received.payloads.withLock { $0 } == ["after the gap"] }
            task.cancel()
            await task.value
        }

        @Test func cancellingStopsTheListenerPromptly() async throws {
            let channel = TestDatabase.uniqueName("listen")
            let task = try start(channel, into: Received())
            let sender = try TestDatabase.connect()
            try await listening(channel, sender)
            let cancelled = ContinuousClock.now
            task.cancel()
            await task.value
            #expect(ContinuousClock.now - cancelled < .seconds(2))
            try await waitUntil {
                (try? sender.query("SELECT count(*) AS n FROM pg_stat_activity WHERE query = \("LISTEN " + channel)")[0]
                    .int("n")) == 0
            }
        }

        @Test func channelsAreIdentifiersOnly() throws {
            let connection = try TestDatabase.connect()
            for bad in ["", "Upper", "semi;colon", "with space", String(repeating: "a", count: 64)] {
                let error = #expect(throws: PostgresError.self) { try connection.listen(bad) }
                #expect(error?.kind == .invalidQuery, "\(bad)")
            }
        }
    }
}
