import Foundation

/// The rows of an import file: CSV with a header naming `user_id` and
/// optionally `nick` and `face_url` (RFC 4180 quoting; an empty field is
/// absent), or NDJSON with one account object per line. The format comes from
/// the extension (`.csv`; `.ndjson`, `.jsonl`) or else from the first
/// character (`{` means NDJSON).
enum ImportFile {
    struct Row: Sendable {
        var line: Int
        var input: Result<AccountInput, Message>
    }

    struct Message: Error, Sendable, Equatable {
        var text: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func ndjson(_ text: String, strategy: IDStrategy) -> [Row] {
        var rows: [Row] = []
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty else { continue }
            switch JSON.object(Array(trimmed.utf8)) {
            case .failure:
                rows.append(Row(line: index + 1, input: .failure(Message(text: "not a JSON object"))))
            case .success(let object):
                rows.append(Row(line: index + 1, input: parse(object, strategy: strategy)))
            }
        }
        return rows
    }

    static func csv(_ text: String, strategy: IDStrategy) throws -> [Row] {
        let records = try CSV.records(text)
        guard let header = records.first else { return [] }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        let known: Set<String> = ["user_id", "nick", "face_url"]
        guard names.contains("user_id"), Set(names).count == names.count, names.allSatisfy(known.contains) else {
            throw Failure(description: "the CSV header must name user_id and optionally nick and face_url (got \(names.joined(separator: ",")))")
        }
        return records.dropFirst().compactMap { record in
            if record.fields == [""] { return nil }  // a blank line
            guard record.fields.count == names.count else {
                return Row(line: record.line, input: .failure(Message(text: "has \(record.fields.count) fields; the header has \(names.count)")))
            }
            var object: [String: Any] = [:]
            for (name, value) in zip(names, record.fields) where !value.isEmpty {
                object[name] = value
            }
            return Row(line: record.line, input: parse(object, strategy: strategy))
        }
    }

    static func parse(_ object: [String: Any], strategy: IDStrategy) -> Result<AccountInput, Message> {
        do {
            return .success(try AccountInput.parse(object, strategy: strategy))
        } catch {
            return .failure(Message(text: error.errors.map { "\($0.field) \($0.message)" }.joined(separator: "; ")))
        }
    }
}

/// RFC 4180 records, with the line each starts on.
enum CSV {
    struct Record: Equatable {
        var line: Int
        var fields: [String]
    }

    static func records(_ text: String) throws -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var line = 1
        var recordLine = 1
        var atFieldStart = true
        var characters = Array(text.unicodeScalars).makeIterator()
        var pending: Unicode.Scalar? = nil
        func next() -> Unicode.Scalar? {
            if let scalar = pending { pending = nil; return scalar }
            return characters.next()
        }
        while let scalar = next() {
            if quoted {
                if scalar == "\"" {
                    if let following = next() {
                        if following == "\"" { field.unicodeScalars.append("\""); continue }
                        quoted = false
                        pending = following
                    } else {
                        quoted = false
                    }
                } else {
                    if scalar == "\n" { line += 1 }
                    field.unicodeScalars.append(scalar)
                }
                continue
            }
            switch scalar {
            case "\"" where atFieldStart:
                quoted = true
                atFieldStart = false
            case ",":
                fields.append(field)
                field = ""
                atFieldStart = true
            case "\r":
                continue
            case "\n":
                fields.append(field)
                records.append(Record(line: recordLine, fields: fields))
                fields = []
                field = ""
                atFieldStart = true
                line += 1
                recordLine = line
            default:
                field.unicodeScalars.append(scalar)
                atFieldStart = false
            }
        }
        if quoted { throw ImportFile.Failure(description: "line \(recordLine): a quoted field is never closed") }
        if !field.isEmpty || !fields.isEmpty {
            fields.append(field)
            records.append(Record(line: recordLine, fields: fields))
        }
        return records
    }
}
