import Foundation

/// A Swift value that can be sent as a query parameter.
///
/// Parameters always travel in PostgreSQL's text format next to the SQL (never inside it), so a
/// conforming type only says how it is written as text and which type the server should read it as.
public protocol PostgresBindable: Sendable {
    /// The PostgreSQL type OID sent with the parameter; 0 lets the server infer the type from the
    /// context.
    static var postgresTypeOID: UInt32 { get }
    /// The value in PostgreSQL's text format, or `nil` for SQL NULL.
    var postgresText: String? { get }
}

extension String: PostgresBindable {
    // Untyped (0), like a quoted literal: the server reads it as whatever the context needs (text,
    // varchar, uuid, jsonb, an enum...), where typing it `text` would make `uuid_column = $1` fail.
    // Where the context gives no type at all (`\(s) IS NULL`, `pg_typeof(\(s))`) the server answers
    // 42P18: write `\(s)::text` there.
    public static var postgresTypeOID: UInt32 { 0 }
    public var postgresText: String? { self }
}

extension Int: PostgresBindable {
    public static var postgresTypeOID: UInt32 { 20 }  // int8
    public var postgresText: String? { String(self) }
}

extension Int64: PostgresBindable {
    public static var postgresTypeOID: UInt32 { 20 }  // int8
    public var postgresText: String? { String(self) }
}

extension Int32: PostgresBindable {
    public static var postgresTypeOID: UInt32 { 23 }  // int4
    public var postgresText: String? { String(self) }
}

extension Bool: PostgresBindable {
    public static var postgresTypeOID: UInt32 { 16 }  // bool
    public var postgresText: String? { self ? "true" : "false" }
}

extension Double: PostgresBindable {
    public static var postgresTypeOID: UInt32 { 701 }  // float8
    public var postgresText: String? {
        // Swift spells these `nan`/`inf`; use PostgreSQL's own spellings rather than rely on its
        // leniency.
        if isNaN { return "NaN" }
        if isInfinite { return self < 0 ? "-Infinity" : "Infinity" }
        return description  // shortest text that reads back as the same Double
    }
}

extension Array: PostgresBindable where Element == UInt8 {
    public static var postgresTypeOID: UInt32 { 17 }  // bytea
    public var postgresText: String? { PostgresBytea.encode(self) }
}

extension Date: PostgresBindable {
    public static var postgresTypeOID: UInt32 { 1184 }  // timestamptz
    public var postgresText: String? { PostgresTimestamp.format(self) }
}

extension Optional: PostgresBindable where Wrapped: PostgresBindable {
    // A NULL still carries the wrapped type, so `\(nil as Int?)` is a NULL bigint, not an untyped
    // NULL.
    public static var postgresTypeOID: UInt32 { Wrapped.postgresTypeOID }
    public var postgresText: String? { self.flatMap { $0.postgresText } }
}
