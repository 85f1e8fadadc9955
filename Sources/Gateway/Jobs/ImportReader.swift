import Foundation

/// Reads an import file a record at a time, with memory bounded whatever its
/// size: one buffer of `chunkSize` bytes and the record being read, which may
/// not exceed `maxRecordBytes` (a longer one is reported as a row error and
/// skipped, never held). NDJSON records are lines; CSV records are RFC 4180
/// records, where a quoted field may span lines.
final class ImportReader {
    enum Format: Sendable { case csv, ndjson }

    let format: Format
    let strategy: IDStrategy
    let maxRecordBytes: Int
    private let handle: FileHandle
    private let chunkSize: Int
    private var chunk: [UInt8] = []
    private var position = 0
    private var atEnd = false
    private var line = 1
    /// The file's size, and how much of it has been read.
    let totalBytes: UInt64
    private(set) var bytesRead: UInt64 = 0
    /// The CSV header's field names.
    private var columns: [String] = []

    init(_ url: URL, strategy: IDStrategy, maxRecordBytes: Int = 1 << 20, chunkSize: Int = 1 << 16) throws {
        if let refusal = Self.refusal(toRead: url.path) { throw ImportFile.Failure(description: refusal) }
        guard let handle = try? FileHandle(forReadingFrom: url) else {
            throw ImportFile.Failure(description: "cannot read \(url.path)")
        }
        self.handle = handle
        self.strategy = strategy
        self.maxRecordBytes = maxRecordBytes
        self.chunkSize = chunkSize
        totalBytes = ((try? FileManager.default.attributesOfItem(atPath: url.path)[.size]) as? NSNumber)?.uint64Value ?? 0
        let ext = url.pathExtension.lowercased()
        if ext == "ndjson" || ext == "jsonl" {
            format = .ndjson
        } else if ext == "csv" {
            format = .csv
        } else {
            let head = (try? handle.read(upToCount: 4096)) ?? Data()
            try? handle.seek(toOffset: 0)
            format = head.first { !($0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D) } == UInt8(ascii: "{") ? .ndjson : .csv
        }
        if format == .csv { try readHeader() }
    }

    deinit { try? handle.close() }

    /// Why `path` cannot be imported from, or nil: a missing or unreadable file,
    /// or a directory (which opens, and then fails on the first read).
    static func refusal(toRead path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return "cannot read \(path)" }
        if isDirectory.boolValue { return "cannot read \(path): it is a directory" }
        return FileManager.default.isReadableFile(atPath: path) ? nil : "cannot read \(path)"
    }

    /// The next row, or nil at the end of the file. Blank records are skipped.
    func next() throws -> ImportFile.Row? {
        while let (start, bytes) = try nextRecord() {
            guard let bytes else {
                return ImportFile.Row(line: start, input: .failure(.init(text: "is longer than \(maxRecordBytes) bytes")))
            }
            guard let text = String(validating: bytes, as: UTF8.self) else {
                return ImportFile.Row(line: start, input: .failure(.init(text: "is not UTF-8")))
            }
            if text.allSatisfy(\.isWhitespace) { continue }
            switch format {
            case .ndjson:
                switch JSON.object(bytes) {
                case .failure(let malformed): return ImportFile.Row(line: start, input: .failure(.init(text: malformed.reason)))
                case .success(let object): return ImportFile.Row(line: start, input: ImportFile.parse(object, strategy: strategy))
                }
            case .csv:
                let records: [CSV.Record]
                do {
                    records = try CSV.records(text + "\n")
                } catch {
                    // Only the last record of a file can hold an open quote: it ran to the end.
                    return ImportFile.Row(line: start, input: .failure(.init(
                        text: "opens a quoted field that is never closed (the rest of the file was read as part of it)")))
                }
                guard records.count == 1 else {
                    // The reader and CSV split records by the same rules; never drop one silently.
                    return ImportFile.Row(line: start, input: .failure(.init(text: "is not one CSV record")))
                }
                let fields = records[0].fields
                guard fields.count == columns.count else {
                    return ImportFile.Row(line: start, input: .failure(.init(text: "has \(fields.count) fields; the header has \(columns.count)")))
                }
                var object: [String: Any] = [:]
                for (name, value) in zip(columns, fields) where !value.isEmpty { object[name] = value }
                return ImportFile.Row(line: start, input: ImportFile.parse(object, strategy: strategy))
            }
        }
        return nil
    }

    private func readHeader() throws {
        while let (_, bytes) = try nextRecord() {
            guard let bytes, let text = String(validating: bytes, as: UTF8.self) else {
                throw ImportFile.Failure(description: "the CSV header is not a line of UTF-8 text")
            }
            if text.allSatisfy(\.isWhitespace) { continue }
            // Spreadsheets often save UTF-8 with a byte order mark.
            let header = text.hasPrefix("\u{FEFF}") ? String(text.dropFirst()) : text
            let names = (try CSV.records(header + "\n").first?.fields ?? []).map { $0.trimmingCharacters(in: .whitespaces) }
            let known: Set<String> = ["user_id", "nick", "face_url"]
            guard names.contains("user_id"), Set(names).count == names.count, names.allSatisfy(known.contains) else {
                throw ImportFile.Failure(description: "the CSV header must name user_id and optionally nick and face_url (got \(names.joined(separator: ",")))")
            }
            columns = names
            return
        }
        throw ImportFile.Failure(description: "the CSV file is empty: it needs a header naming user_id (and optionally nick and face_url)")
    }

    /// The next record's first line and bytes (without its line end); nil bytes
    /// when it was longer than allowed. Nil at the end of the file.
    private func nextRecord() throws -> (line: Int, bytes: [UInt8]?)? {
        var record: [UInt8] = []
        var tooLong = false
        var csv = CSVScan()
        let start = line
        var sawAny = false
        while true {
            if position == chunk.count {
                if atEnd { break }
                let data = try handle.read(upToCount: chunkSize) ?? Data()
                if data.isEmpty { atEnd = true; break }
                chunk = Array(data)
                position = 0
                bytesRead += UInt64(data.count)
            }
            sawAny = true
            // Scan to the record's end within this chunk.
            var end = position
            var found = false
            while end < chunk.count {
                let byte = chunk[end]
                let quoted = format == .csv && csv.isQuoted
                if format == .csv { csv.consume(byte) }
                if byte == UInt8(ascii: "\n") {
                    line += 1
                    if !quoted { found = true; break }
                }
                end += 1
            }
            if !tooLong {
                if record.count + (end - position) > maxRecordBytes {
                    tooLong = true
                    record = []
                } else {
                    record.append(contentsOf: chunk[position..<end])
                }
            }
            position = found ? end + 1 : end
            if found { break }
        }
        guard sawAny else { return nil }
        if tooLong { return (start, nil) }
        if record.last == UInt8(ascii: "\r") { record.removeLast() }
        return (start, record)
    }
}

/// Where a byte stream stands in RFC 4180's grammar, as far as finding the end
/// of a record needs: a line end ends the record unless it is inside a quoted
/// field. A quote opens a quoted field only at the start of a field; anywhere
/// else in an unquoted field it is data (as `CSV.records` reads it), so a
/// stray quote cannot swallow the lines after it.
struct CSVScan {
    private enum State { case fieldStart, unquoted, quoted, quoteInQuoted }
    private var state = State.fieldStart

    var isQuoted: Bool { state == .quoted }

    mutating func consume(_ byte: UInt8) {
        switch (state, byte) {
        case (.quoted, UInt8(ascii: "\"")): state = .quoteInQuoted
        case (.quoted, _): break
        case (.quoteInQuoted, UInt8(ascii: "\"")): state = .quoted  // "" is a quote inside the field
        case (_, UInt8(ascii: ",")), (_, UInt8(ascii: "\n")): state = .fieldStart
        case (.fieldStart, UInt8(ascii: "\"")): state = .quoted
        case (.fieldStart, UInt8(ascii: "\r")): break
        default: state = .unquoted
        }
    }
}
