import Foundation
import Logging
import PostgresClient

/// `account-gateway import FILE`: CSV (header `user_id,nick,face_url`) or
/// NDJSON, streamed and validated row by row, committed in set-based batches
/// while this process's worker delivers what is already committed (through
/// the same coalescing path as every replica, under the same central limits),
/// then followed until every row has an answer from Tencent.
///
/// Memory is bounded whatever the file's size: the reader holds one chunk and
/// one record, the importer one batch being parsed and one being committed.
/// Rows are followed in the database by this run's request id, not in memory.
/// Resumable: rows already imported as asked are no-ops on a second run, and
/// pending ones are taken over by it.
public struct BulkImporter: Sendable {
    let pool: PostgresPool
    let breaker: UpstreamBreaker
    let idStrategy: IDStrategy
    /// This process's delivery worker, run until cancelled while the file is imported.
    let worker: @Sendable () async -> Void
    let batchSize: Int
    let caller: String
    /// Committed accounts not yet answered, at most, before reading on: the
    /// database holds the backlog, but there is no use running far ahead of it.
    let maxAhead: Int

    /// With the application's pool, breaker, ID strategy and worker.
    public init(app: GatewayApplication, batchSize: Int = 1000, caller: String = "cli-import", maxAhead: Int = 50_000) {
        self.init(pool: app.pool, breaker: app.delivery.breaker, idStrategy: app.configuration.idStrategy,
                  worker: { await app.runWorker() }, batchSize: batchSize, caller: caller, maxAhead: maxAhead)
    }

    init(pool: PostgresPool, breaker: UpstreamBreaker, idStrategy: IDStrategy, worker: @escaping @Sendable () async -> Void,
         batchSize: Int, caller: String, maxAhead: Int) {
        self.pool = pool
        self.breaker = breaker
        self.idStrategy = idStrategy
        self.worker = worker
        self.batchSize = max(1, min(batchSize, GatewayApplication.maxBatchAccounts))
        self.caller = caller
        self.maxAhead = maxAhead
    }

    public struct Progress: Sendable, Equatable, CustomStringConvertible {
        /// Rows read, and how many of them were invalid.
        public var rows = 0
        public var invalid = 0
        /// Rows by where their account stands (a row repeating a user_id shares its account's fate).
        public var imported = 0
        public var pending = 0
        public var failed = 0
        /// How far through the file reading is, in bytes; for an ETA.
        public var bytesRead: UInt64 = 0
        public var totalBytes: UInt64 = 0
        /// This run's request id: its rows' `request_id` and its upstream events'.
        public var runID = ""
        /// Why the run stopped following its accounts early (the upstream circuit
        /// breaker opened): they stay pending, and a later run resumes.
        public var stoppedBecause: String?

        public var description: String {
            "rows \(rows) (invalid \(invalid)) · imported \(imported) · pending \(pending) · failed \(failed)"
        }

        /// Every row ended `imported`. (A row repeating a user_id shares its account's
        /// fate; such rows count as imported once all accounts are, else as not imported.)
        public var isComplete: Bool { invalid == 0 && pending == 0 && failed == 0 && imported == rows }
    }

    public struct RowError: Sendable, Equatable {
        public var line: Int
        public var message: String
    }

    /// Set while the upstream circuit breaker is open: no account can be imported
    /// until the configuration is fixed, so waiting for them would only hang.
    private func breakerReason() async -> String? {
        guard let open = await breaker.state() else { return nil }
        return "upstream \(open.summary); fix the configuration, then run the same import again; it resumes"
    }

    /// Why accounts of the run ended `failed`: Tencent's code and text, and how many.
    public struct FailureReason: Sendable, Equatable {
        public var code: Int?
        public var info: String?
        public var accounts: Int
    }

    /// Imports the file; `report` gets row errors as they are found and progress now and then.
    public func run(_ url: URL, drainTimeout: Duration = .seconds(3600),
                    report: @escaping @Sendable (RowError?, Progress) -> Void = { _, _ in }) async throws -> Progress {
        let reader = try ImportReader(url, strategy: idStrategy)
        let runID = "import-" + UUID().uuidString.lowercased().prefix(12)
        var tally = Tally(runID: runID)
        tally.progress.runID = runID
        tally.progress.totalBytes = reader.totalBytes

        // Delivery starts with the first commit: this process serves the backlog too.
        let worker = Task { await self.worker() }
        defer { worker.cancel() }

        var commit: Task<Int, Error>?
        var lastReport = ContinuousClock.now
        while true {
            // Parse the next batch while the previous one commits.
            var batch = Batch()
            while batch.rows < batchSize, let row = try reader.next() {
                switch row.input {
                case .success(let input): batch.add(input)
                case .failure(let message):
                    tally.progress.invalid += 1
                    report(RowError(line: row.line, message: message.text), tally.progress)
                }
                tally.progress.rows += 1
            }
            tally.progress.bytesRead = reader.bytesRead
            if let previous = commit { tally.alreadyImported += try await previous.value }
            commit = nil
            guard batch.rows > 0 else { break }
            tally.committedRows += batch.rows
            let inputs = batch.inputs
            commit = Task { try await store(inputs, runID: runID) }
            if ContinuousClock.now - lastReport >= .seconds(1) || tally.committedRows - tally.answeredRows > maxAhead {
                try await tally.refresh(on: pool)
                report(nil, tally.progress)
                lastReport = .now
                while tally.committedRows - tally.answeredRows > maxAhead {
                    if let reason = await breakerReason() {
                        tally.progress.stoppedBecause = reason
                        break
                    }
                    try await Task.sleep(for: .milliseconds(250))
                    try await tally.refresh(on: pool)
                }
            }
            if tally.progress.stoppedBecause != nil { break }
        }
        if let previous = commit { tally.alreadyImported += try await previous.value }

        // Follow what is still pending.
        let deadline = ContinuousClock.now + drainTimeout
        try await tally.refresh(on: pool)
        report(nil, tally.progress)
        while tally.progress.pending > 0 && ContinuousClock.now < deadline && tally.progress.stoppedBecause == nil {
            if let reason = await breakerReason() {
                tally.progress.stoppedBecause = reason
                break
            }
            try await Task.sleep(for: .milliseconds(250))
            try await tally.refresh(on: pool)
            if ContinuousClock.now - lastReport >= .seconds(1) {
                report(nil, tally.progress)
                lastReport = .now
            }
        }
        return tally.progress
    }

    /// Why the run's accounts ended `failed`, most common first; for the final summary.
    public func failureReasons(runID: String, limit: Int = 20) async throws -> [FailureReason] {
        try await pool.query("""
            SELECT last_error_code, last_error_info, count(*) AS accounts FROM accounts
            WHERE request_id = \(runID) AND status = 'failed'
            GROUP BY 1, 2 ORDER BY 3 DESC, 1 LIMIT \(limit)
            """).rows.map {
            FailureReason(code: try $0.optionalInt("last_error_code"), info: try $0.optionalString("last_error_info"),
                          accounts: try $0.int("accounts"))
        }
    }

    /// Commits one batch's intents; returns how many were already imported as asked.
    private func store(_ inputs: [AccountInput], runID: String) async throws -> Int {
        var attempt = 1
        while true {
            do {
                let intents = try await pool.withTransaction { connection in
                    try ImportService.storeIntents(inputs, refusal: nil, caller: caller, requestID: runID, on: connection)
                }
                return intents.filter { if case .unchanged = $0 { true } else { false } }.count
            } catch let error as PostgresError where (error.isDeadlock || error.isSerializationFailure) && attempt < 3 {
                // Another writer of the same accounts (a caller, a replica) won; the batch is safe to repeat.
                attempt += 1
            }
        }
    }

    /// Why `path` cannot be imported from, or nil (`ImportReader` refuses the same when it opens it).
    public static func refusal(toRead path: String) -> String? { ImportReader.refusal(toRead: path) }

    /// The distinct accounts of up to `batchSize` rows; the last row of a user_id wins.
    private struct Batch {
        var rows = 0
        private var order: [UserIDKey] = []
        private var latest: [UserIDKey: AccountInput] = [:]

        var inputs: [AccountInput] { order.compactMap { latest[$0] } }

        mutating func add(_ input: AccountInput) {
            rows += 1
            let key = UserIDKey(input.userID)
            if latest.updateValue(input, forKey: key) == nil { order.append(key) }
        }
    }

    /// Where the run's rows stand, from the database.
    private struct Tally {
        let runID: String
        var progress = Progress()
        /// Valid rows committed, and accounts already imported as asked (no
        /// write, so not under the run's id).
        var committedRows = 0
        var alreadyImported = 0

        /// Rows whose account has its answer (imported or failed).
        var answeredRows: Int { progress.imported + progress.failed }

        mutating func refresh(on pool: PostgresPool) async throws {
            let row = try await pool.query("""
                SELECT count(*) FILTER (WHERE status = 'imported') AS imported,
                       count(*) FILTER (WHERE status = 'pending') AS pending,
                       count(*) FILTER (WHERE status = 'failed') AS failed
                FROM accounts WHERE request_id = \(runID)
                """).rows[0]
            let imported = try row.int("imported") + alreadyImported
            let pending = try row.int("pending")
            let failed = try row.int("failed")
            // Rows that repeated a user_id (within a batch, or across batches) share
            // their account's fate; they are counted with the imported ones once
            // nothing is pending or failed, since only then is that fate known for all.
            let repeated = max(0, committedRows - (imported + pending + failed))
            progress.imported = imported + (pending == 0 && failed == 0 ? repeated : 0)
            progress.pending = pending + (pending > 0 ? repeated : 0)
            progress.failed = failed + (pending == 0 && failed > 0 ? repeated : 0)
        }
    }
}
