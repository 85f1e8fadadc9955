import Foundation
import Logging

/// `account-gateway import FILE`: CSV (header `user_id,nick,face_url`) or
/// NDJSON, validated row by row, committed in batches through the same path as
/// `POST /accounts/batch` (so under the same central limits as the running
/// replicas), then followed until every row has an answer from Tencent.
/// Resumable: rows already imported as asked are no-ops on a second run, and
/// pending ones carry on from the database.
public struct BulkImporter: Sendable {
    let app: GatewayApplication
    let batchSize: Int
    let caller: String

    public init(app: GatewayApplication, batchSize: Int = 1000, caller: String = "cli-import") {
        self.app = app
        self.batchSize = max(1, min(batchSize, GatewayApplication.maxBatchAccounts))
        self.caller = caller
    }

    public struct Progress: Sendable, Equatable, CustomStringConvertible {
        public var rows = 0
        public var invalid = 0
        public var imported = 0
        public var pending = 0
        public var failed = 0

        public var description: String {
            "rows \(rows) (invalid \(invalid)) · imported \(imported) · pending \(pending) · failed \(failed)"
        }

        /// Every row ended `imported`.
        public var isComplete: Bool { invalid == 0 && pending == 0 && failed == 0 && imported == rows }
    }

    public struct RowError: Sendable, Equatable {
        public var line: Int
        public var message: String
    }

    /// Imports the file; `report` gets row errors as they are found and progress now and then.
    public func run(_ url: URL, drainTimeout: Duration = .seconds(3600),
                    report: @Sendable (RowError?, Progress) -> Void = { _, _ in }) async throws -> Progress {
        let rows = try ImportFile.read(url, strategy: app.configuration.idStrategy)
        var progress = Progress()
        progress.rows = rows.count
        var latest: [String: AccountInput] = [:]  // the last row of a user_id wins
        var order: [String] = []
        var rowsPerUser: [String: Int] = [:]
        for row in rows {
            switch row.input {
            case .success(let input):
                if latest.updateValue(input, forKey: input.userID) == nil { order.append(input.userID) }
                rowsPerUser[input.userID, default: 0] += 1
            case .failure(let message):
                progress.invalid += 1
                report(RowError(line: row.line, message: message.text), progress)
            }
        }
        let runID = "import-" + UUID().uuidString.lowercased().prefix(8)
        let inputs = order.compactMap { latest[$0] }
        for start in stride(from: 0, to: inputs.count, by: batchSize) {
            let batch = Array(inputs[start..<min(start + batchSize, inputs.count)])
            _ = try await app.imports.importBatch(batch, caller: caller, requestID: runID)
            progress = try await tally(order, rowsPerUser: rowsPerUser, into: progress)
            report(nil, progress)
        }

        // Follow the pending ones: this process delivers too, sharing the budget.
        let worker = Task { await app.runWorker() }
        defer { worker.cancel() }
        let deadline = ContinuousClock.now + drainTimeout
        while progress.pending > 0 && ContinuousClock.now < deadline {
            try await Task.sleep(for: .seconds(1))
            progress = try await tally(order, rowsPerUser: rowsPerUser, into: progress)
            report(nil, progress)
        }
        return progress
    }

    /// Each valid row ends as its user_id's account did (rows repeating a user_id share its fate).
    private func tally(_ userIDs: [String], rowsPerUser: [String: Int], into progress: Progress) async throws -> Progress {
        var progress = progress
        progress.imported = 0
        progress.pending = 0
        progress.failed = 0
        for start in stride(from: 0, to: userIDs.count, by: 5000) {
            let accounts = try await AccountStore.fetch(Array(userIDs[start..<min(start + 5000, userIDs.count)]), on: app.pool)
            for account in accounts.values {
                let rows = rowsPerUser[account.userID, default: 1]
                switch account.status {
                case .imported: progress.imported += rows
                case .pending: progress.pending += rows
                case .failed: progress.failed += rows
                }
            }
        }
        return progress
    }
}
