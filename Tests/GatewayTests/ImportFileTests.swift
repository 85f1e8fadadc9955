import Foundation
import Testing
@testable import Gateway
import TencentSandbox

@Suite struct CSVTests {
    @Test func quotedFieldsCommasNewlinesAndQuotes() throws {
        let text = "user_id,nick\r\nu1,\"Ann, \"\"the\"\" first\"\r\nu2,\"two\nlines\"\n\nu3,\n"
        let records = try CSV.records(text)
        #expect(records == [
            CSV.Record(line: 1, fields: ["user_id", "nick"]),
            CSV.Record(line: 2, fields: ["u1", "Ann, \"the\" first"]),
            CSV.Record(line: 3, fields: ["u2", "two\nlines"]),
            CSV.Record(line: 5, fields: [""]),
            CSV.Record(line: 6, fields: ["u3", ""]),
        ])
    }

    @Test func anUnclosedQuoteIsAnError() {
        #expect(throws: ImportFile.Failure.self) { try CSV.records("user_id\n\"open") }
    }
}

@Suite(.serialized) struct BulkImportTests {
    func write(_ text: String, ext: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("import-\(UUID().uuidString).\(ext)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    @Test func aCleanFileEndsImportedAndASecondRunSendsNothing() async throws {
        try await GatewayHarness.with { h in
            let lines = (1...150).map { "bulk_\($0),Nick \($0)," }
            let url = try write("user_id,nick,face_url\n" + lines.joined(separator: "\n") + "\n", ext: "csv")
            defer { try? FileManager.default.removeItem(at: url) }
            let progress = try await BulkImporter(app: h.app, batchSize: 60).run(url)
            #expect(progress.counts == Counts(rows: 150, invalid: 0, imported: 150, pending: 0, failed: 0))
            #expect(progress.isComplete)
            #expect(h.sandbox.account("bulk_150")?.nick == "Nick 150")
            let calls = h.sandbox.stats().calls.values.reduce(0, +)
            #expect(calls <= 6, "batched: \(calls) calls for 150 accounts")
            let again = try await BulkImporter(app: h.app).run(url)
            #expect(again.isComplete)
            #expect(h.sandbox.stats().calls.values.reduce(0, +) == calls, "a second run sends nothing")
        }
    }

    @Test func invalidRowsAreReportedAndTheRunIsIncomplete() async throws {
        try await GatewayHarness.with { h in
            let url = try write("{\"user_id\":\"j_1\"}\n{\"user_id\":\"bad id\"}\n{\"user_id\":\"j_1\",\"nick\":\"later\"}\n", ext: "ndjson")
            defer { try? FileManager.default.removeItem(at: url) }
            let errors = RowErrors()
            let progress = try await BulkImporter(app: h.app).run(url) { error, _ in if let error { errors.add(error) } }
            #expect(progress.counts == Counts(rows: 3, invalid: 1, imported: 2, pending: 0, failed: 0))
            #expect(!progress.isComplete)
            #expect(errors.all.map(\.line) == [2])
            #expect(h.sandbox.account("j_1")?.nick == "later", "the last row of a user_id wins")
        }
    }

    @Test func anInterruptedImportResumesWhereItStopped() async throws {
        try await GatewayHarness.with { h in
            let lines = (1...300).map { "{\"user_id\":\"resume_\($0)\",\"nick\":\"R\($0)\"}" }
            let url = try write(lines.joined(separator: "\n") + "\n", ext: "ndjson")
            defer { try? FileManager.default.removeItem(at: url) }
            // Tencent down: the first run commits every row, delivers none, and is interrupted.
            h.sandbox.setFaults(SandboxFaults(http502Rate: 1))
            let first = Task { try await BulkImporter(app: h.app, batchSize: 100).run(url) }
            var stored = 0
            for _ in 0..<100 where stored < 300 {
                try await Task.sleep(for: .milliseconds(50))
                stored = try await h.pool.query("SELECT count(*) AS n FROM accounts").rows[0].int("n")
            }
            first.cancel()
            _ = try? await first.value
            #expect(stored == 300)
            #expect(try await h.pool.query("SELECT count(*) AS n FROM accounts WHERE status = 'imported'").rows[0].int("n") == 0)

            // Tencent back: a second run takes the pending rows over and ends them all imported.
            // Once the interrupted run's last calls are recorded, its backoffs are waived (as time would).
            for _ in 0..<100 {
                let held = try await h.pool.query("SELECT count(*) AS n FROM accounts WHERE lease_owner IS NOT NULL").rows[0].int("n")
                if held == 0 { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            h.sandbox.setFaults(SandboxFaults())
            _ = try await h.pool.query("UPDATE accounts SET next_attempt_at = now()")
            let second = try await BulkImporter(app: h.app, batchSize: 100).run(url)
            #expect(second.counts == Counts(rows: 300, invalid: 0, imported: 300, pending: 0, failed: 0))
            #expect(second.isComplete)
            #expect(h.sandbox.stats().accounts == 300)
            #expect(h.sandbox.account("resume_300")?.nick == "R300")
        }
    }

    @Test func failuresAreSummarisedWithTheirReasons() async throws {
        var options = GatewayHarness.Options()
        options.accountQuota = 2
        try await GatewayHarness.with(options) { h in
            let url = try write("user_id\nq_1\nq_2\nq_3\nq_4\n", ext: "csv")
            defer { try? FileManager.default.removeItem(at: url) }
            let importer = BulkImporter(app: h.app)
            let progress = try await importer.run(url, drainTimeout: .seconds(20))
            #expect(!progress.isComplete)
            #expect(progress.imported == 2 && progress.failed == 2)
            let reasons = try await importer.failureReasons(runID: progress.runID)
            #expect(reasons.map(\.code) == [70398])
            #expect(reasons.first?.accounts == 2)
        }
    }
}

@Suite struct ImportReaderTests {
    func write(_ text: String, ext: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("reader-\(UUID().uuidString).\(ext)")
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }

    func rows(_ reader: ImportReader) throws -> [ImportFile.Row] {
        var rows: [ImportFile.Row] = []
        while let row = try reader.next() { rows.append(row) }
        return rows
    }

    /// The rows of `text` read as a file with extension `ext`.
    func rows(_ text: String, ext: String) throws -> [ImportFile.Row] {
        let url = try write(text, ext: ext)
        defer { try? FileManager.default.removeItem(at: url) }
        return try rows(try ImportReader(url, strategy: .verbatim))
    }

    @Test func rowsAreValidatedWithTheirLineNumbers() throws {
        let rows = try rows("face_url,user_id\nhttps://x/a.png,ok_1\n,bad id\nonly\n", ext: "csv")
        #expect(rows.count == 3)
        #expect(try rows[0].input.get() == AccountInput(userID: "ok_1", chatUserID: "ok_1", nick: nil, faceURL: "https://x/a.png"))
        guard case .failure(let bad) = rows[1].input, case .failure(let short) = rows[2].input else { Issue.record("accepted"); return }
        #expect(rows[1].line == 3 && bad.text.hasPrefix("user_id "))
        #expect(rows[2].line == 4 && short.text.contains("fields"))
        #expect(throws: ImportFile.Failure.self) { try self.rows("id,nick\n1,a\n", ext: "csv") }
    }

    @Test func ndjsonLines() throws {
        let rows = try rows("{\"user_id\":\"n1\",\"nick\":\"A\"}\n\nnot json\n{\"user_id\":5}\n", ext: "ndjson")
        #expect(rows.map(\.line) == [1, 3, 4])
        #expect((try? rows[0].input.get())?.nick == "A")
    }

    @Test func aRecordLongerThanTheLimitIsARowErrorAndReadingGoesOn() throws {
        let long = String(repeating: "x", count: 5000)
        let url = try write("{\"user_id\":\"a_1\"}\n{\"user_id\":\"\(long)\"}\n{\"user_id\":\"a_3\"}", ext: "ndjson")
        defer { try? FileManager.default.removeItem(at: url) }
        // Chunks far smaller than the record: it is skipped without being held.
        let rows = try rows(try ImportReader(url, strategy: .verbatim, maxRecordBytes: 1000, chunkSize: 64))
        #expect(rows.map(\.line) == [1, 2, 3])
        #expect((try? rows[0].input.get())?.userID == "a_1")
        guard case .failure(let message) = rows[1].input else { Issue.record("a long line was accepted"); return }
        #expect(message.text.contains("longer than 1000 bytes"))
        #expect((try? rows[2].input.get())?.userID == "a_3", "the last line needs no newline")
    }

    @Test func csvRecordsSpanLinesAndChunks() throws {
        let text = "user_id,nick\r\nc_0,\"Ann, \"\"the\"\" first\"\r\nc_1,\"two\nlines\"\r\n\nc_2,\nbad id,x\n"
        let url = try write(text, ext: "csv")
        defer { try? FileManager.default.removeItem(at: url) }
        // Three-byte chunks: quotes, the quoted newline and CRLF all fall across chunk boundaries.
        let rows = try rows(try ImportReader(url, strategy: .verbatim, chunkSize: 3))
        #expect(rows.map(\.line) == [2, 3, 6, 7])
        #expect((try? rows[0].input.get())?.nick == "Ann, \"the\" first")
        // The quoted newline keeps the record whole (and a nick may not hold one).
        guard case .failure(let message) = rows[1].input else { Issue.record("a newline in a nick was accepted"); return }
        #expect(message.text.contains("control characters"))
        #expect((try? rows[2].input.get()) == AccountInput(userID: "c_2", chatUserID: "c_2", nick: nil, faceURL: nil))
        guard case .failure = rows[3].input else { Issue.record("an invalid user_id was accepted"); return }
    }

    @Test func aQuoteInsideAnUnquotedFieldIsDataAndSwallowsNoLines() throws {
        // Found from outside: the reader took any quote for the start of a quoted field,
        // read the rest of the file as one record, and kept only its first row.
        for chunkSize in [3, 1 << 16] {
            let text = "user_id,nick,face_url\nq_0,ok,\nq_1,a\"b,\nq_2,ok,\nq_3,\"x\"\"y\"z,\nq_4,ok,\n"
            let url = try write(text, ext: "csv")
            defer { try? FileManager.default.removeItem(at: url) }
            let rows = try rows(try ImportReader(url, strategy: .verbatim, chunkSize: chunkSize))
            #expect(rows.map(\.line) == [2, 3, 4, 5, 6], "chunks of \(chunkSize)")
            #expect(rows.map { (try? $0.input.get())?.userID } == ["q_0", "q_1", "q_2", "q_3", "q_4"])
            #expect((try? rows[1].input.get())?.nick == "a\"b")
            #expect((try? rows[3].input.get())?.nick == "x\"yz", "text after a closing quote is kept, as CSV.records keeps it")
        }
    }

    @Test func anUnclosedQuoteIsARowErrorOnItsOwnLineAndTheRowsBeforeItStand() throws {
        let rows = try rows("user_id,nick,face_url\nu_7,Seven,\nu_8,\"unterminated,\nu_9,Nine,\n", ext: "csv")
        #expect(rows.map(\.line) == [2, 3])
        #expect((try? rows[0].input.get())?.userID == "u_7")
        guard case .failure(let message) = rows[1].input else { Issue.record("an open quote was accepted"); return }
        #expect(message.text.contains("never closed"))
    }

    /// Found from outside: a directory opened, then failed with Foundation's error on the first read.
    @Test func aDirectoryIsRefusedWhenOpened() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("reader-\(UUID().uuidString).csv")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let failure = #expect(throws: ImportFile.Failure.self) { try ImportReader(directory, strategy: .verbatim) }
        #expect(failure?.description.hasSuffix("it is a directory") == true)
    }

    /// Found from outside: an empty CSV file, with no header at all, imported nothing and exited 0.
    @Test func aCSVFileWithoutAHeaderIsRefused() throws {
        for text in ["", "\n\n  \n"] {
            let url = try write(text, ext: "csv")
            defer { try? FileManager.default.removeItem(at: url) }
            #expect(throws: ImportFile.Failure.self) { try ImportReader(url, strategy: .verbatim) }
        }
    }

    @Test func aByteOrderMarkBeforeTheHeaderIsIgnored() throws {
        let rows = try rows("\u{FEFF}user_id,nick\nb_1,Bom\n", ext: "csv")
        #expect(rows.count == 1)
        #expect((try? rows[0].input.get())?.nick == "Bom")
    }

    @Test func theFormatComesFromTheExtensionOrTheFirstCharacter() throws {
        let url = try write("\n  {\"user_id\":\"f_1\"}\n", ext: "txt")
        defer { try? FileManager.default.removeItem(at: url) }
        let reader = try ImportReader(url, strategy: .verbatim)
        #expect(reader.format == .ndjson)
        #expect(try rows(reader).count == 1)
        let csv = try write("nick,user_id\n", ext: "txt")
        defer { try? FileManager.default.removeItem(at: csv) }
        #expect(try ImportReader(csv, strategy: .verbatim).format == .csv)
        let bad = try write("id,nick\n1,a\n", ext: "csv")
        defer { try? FileManager.default.removeItem(at: bad) }
        #expect(throws: ImportFile.Failure.self) { try ImportReader(bad, strategy: .verbatim) }
    }
}

struct Counts: Equatable {
    var rows, invalid, imported, pending, failed: Int
}

extension BulkImporter.Progress {
    var counts: Counts { Counts(rows: rows, invalid: invalid, imported: imported, pending: pending, failed: failed) }
}

final class RowErrors: @unchecked Sendable {
    // Guarded by `lock`.
    private var errors: [BulkImporter.RowError] = []
    private let lock = NSLock()
    func add(_ error: BulkImporter.RowError) { lock.withLock { errors.append(error) } }
    var all: [BulkImporter.RowError] { lock.withLock { errors } }
}
