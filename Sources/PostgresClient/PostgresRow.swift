import Foundation

/// One row of a result: its values in PostgreSQL's text format, copied out of libpq.
///
/// The typed accessors throw a `.decoding` `PostgresError` that names the column when it is
/// missing, NULL (for the non-optional accessors) or not of the asked-for type. The value itself is
/// never put in the error.
public struct PostgresRow: Sendable {
    let columns: PostgresColumns
    /// The values in column order, `nil` for NULL.
    public let values: [String?]

    init(columns: PostgresColumns, values: [String?]) {
        self.columns = columns
        self.values = values
    }

    /// For tests and tools: a row built by hand.
    init(columnNames: [String], values: [String?]) {
        self.init(columns: PostgresColumns(columnNames), values: values)
    }

    public var columnNames: [String] { columns.names }

    /// The raw text of the value at `position`, `nil` for NULL.
    public subscript(position: Int) -> String? { values[position] }

    /// The raw text of the named column, `nil` for NULL; throws if there is no such column.
    public func value(_ column: String, file: String = #fileID, line: Int = #line) throws -> String?
    {
        guard let position = columns.position(of: column) else {
            throw PostgresError(
                kind: .decoding, message: "the result has no column \"\(column)\"", column: column,
                file: file, line: line)
        }
        return values[position]
    }

    public func string(_ column: String, file: String = #fileID, line: Int = #line) throws -> String
    {
        try required(column, "text", file, line) { $0 }
    }

    public func optionalString(
        _ column: String, file: String = #fileID, line: Int = #line
    ) throws -> String? {
        try optional(column, "text", file, line) { $0 }
    }

    public func int(_ column: String, file: String = #fileID, line: Int = #line) throws -> Int {
        try required(column, "an integer", file, line) { Int($0) }
    }

    public func optionalInt(
        _ column: String, file: String = #fileID, line: Int = #line
    ) throws -> Int? {
        try optional(column, "an integer", file, line) { Int($0) }
    }

    public func int64(_ column: String, file: String = #fileID, line: Int = #line) throws -> Int64 {
        try required(column, "a 64-bit integer", file, line) { Int64($0) }
    }

    public func optionalInt64(
        _ column: String, file: String = #fileID, line: Int = #line
    ) throws -> Int64? {
        try optional(column, "a 64-bit integer", file, line) { Int64($0) }
    }

    public func bool(_ column: String, file: String = #fileID, line: Int = #line) throws -> Bool {
        try required(column, "a boolean", file, line, Self.parseBool)
    }

    public func optionalBool(
        _ column: String, file: String = #fileID, line: Int = #line
    ) throws -> Bool? {
        try optional(column, "a boolean", file, line, Self.parseBool)
    }

    public func double(_ column: String, file: String = #fileID, line: Int = #line) throws -> Double
    {
        try required(column, "a floating-point number", file, line, Self.parseDouble)
    }

    public func optionalDouble(
        _ column: String, file: String = #fileID, line: Int = #line
    ) throws -> Double? {
        try optional(column, "a floating-point number", file, line, Self.parseDouble)
    }

    /// A timestamptz (or timestamp, read as UTC) in ISO format, e.g. `2026-11-26
    /// 19:20:27.123456+00`.
    public func date(_ column: String, file: String = #fileID, line: Int = #line) throws -> Date {
        try required(column, "a finite ISO timestamp", file, line) { PostgresTimestamp.parse($0) }
    }

    public func optionalDate(
        _ column: String, file: String = #fileID, line: Int = #line
    ) throws -> Date? {
        try optional(column, "a finite ISO timestamp", file, line) { PostgresTimestamp.parse($0) }
    }

    /// A bytea in hex format (`\x0a1b...`).
    public func bytes(_ column: String, file: String = #fileID, line: Int = #line) throws -> [UInt8]
    {
        try required(column, "bytea in hex format", file, line) { PostgresBytea.decode($0) }
    }

    public func optionalBytes(
        _ column: String, file: String = #fileID, line: Int = #line
    ) throws -> [UInt8]? {
        try optional(column, "bytea in hex format", file, line) { PostgresBytea.decode($0) }
    }

    // MARK: - Decoding

    private static func parseBool(_ text: String) -> Bool? {
        switch text {
        case "t", "true": return true
        case "f", "false": return false
        default: return nil
        }
    }

    private static func parseDouble(_ text: String) -> Double? {
        // PostgreSQL's spellings; Swift's Double(String) would also take "nan", "inf", hex...
        switch text {
        case "NaN": return .nan
        case "Infinity": return .infinity
        case "-Infinity": return -.infinity
        default:
            guard let first = text.utf8.first,
                first == UInt8(ascii: "-") || (first >= 48 && first <= 57)
            else {
                return nil
            }
            return Double(text)
        }
    }

    private func optional<T>(
        _ column: String, _ expected: String, _ file: String, _ line: Int, _ parse: (String) -> T?
    ) throws -> T? {
        guard let text = try value(column, file: file, line: line) else { return nil }
        guard let decoded = parse(text) else {
            throw PostgresError(
                kind: .decoding, message: "column \"\(column)\" does not hold \(expected)",
                column: column, file: file, line: line)
        }
        return decoded
    }

    private func required<T>(
        _ column: String, _ expected: String, _ file: String, _ line: Int, _ parse: (String) -> T?
    ) throws -> T {
        guard let decoded = try optional(column, expected, file, line, parse) else {
            throw PostgresError(
                kind: .decoding, message: "column \"\(column)\" is NULL, expected \(expected)",
                column: column, file: file, line: line)
        }
        return decoded
    }
}
