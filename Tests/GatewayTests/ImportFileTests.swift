import Foundation
import Testing
@testable import Gateway

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

    @Test func rowsAreValidatedWithTheirLineNumbers() throws {
        let rows = try ImportFile.csv("face_url,user_id\nhttps://x/a.png,ok_1\n,bad id\nonly\n", strategy: .verbatim)
        #expect(rows.count == 3)
        #expect(try rows[0].input.get() == AccountInput(userID: "ok_1", chatUserID: "ok_1", nick: nil, faceURL: "https://x/a.png"))
        guard case .failure(let bad) = rows[1].input, case .failure(let short) = rows[2].input else { Issue.record("accepted"); return }
        #expect(rows[1].line == 3 && bad.text.hasPrefix("user_id "))
        #expect(rows[2].line == 4 && short.text.contains("fields"))
        #expect(throws: ImportFile.Failure.self) { try ImportFile.csv("id,nick\n1,a\n", strategy: .verbatim) }
    }

    @Test func ndjsonLines() {
        let rows = ImportFile.ndjson("{\"user_id\":\"n1\",\"nick\":\"A\"}\n\nnot json\n{\"user_id\":5}\n", strategy: .verbatim)
        #expect(rows.map(\.line) == [1, 3, 4])
        #expect((try? rows[0].input.get())?.nick == "A")
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
            #expect(progress == BulkImporter.Progress(rows: 150, invalid: 0, imported: 150, pending: 0, failed: 0))
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
            #expect(progress == BulkImporter.Progress(rows: 3, invalid: 1, imported: 2, pending: 0, failed: 0))
            #expect(!progress.isComplete)
            #expect(errors.all.map(\.line) == [2])
            #expect(h.sandbox.account("j_1")?.nick == "later", "the last row of a user_id wins")
        }
    }
}

final class RowErrors: @unchecked Sendable {
    // Guarded by `lock`.
    private var errors: [BulkImporter.RowError] = []
    private let lock = NSLock()
    func add(_ error: BulkImporter.RowError) { lock.withLock { errors.append(error) } }
    var all: [BulkImporter.RowError] { lock.withLock { errors } }
}
