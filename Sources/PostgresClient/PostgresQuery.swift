/// SQL text and its parameters, kept apart all the way to the server.
///
/// Every interpolated value becomes a `$N` placeholder and a parameter, so a value can never be
/// read as SQL:
///
///     let q: PostgresQuery = "SELECT * FROM accounts WHERE id = \(id) AND created > \(since)"
///     // sql: "SELECT * FROM accounts WHERE id = $1 AND created > $2", two parameters
///
/// Only `PostgresBindable` values become parameters. The one way to put text into the SQL itself is
/// `\(unescaped: ...)`, which takes a `StaticString`, i.e. a literal written in the source (a
/// column list, say), never a value computed at run time.
public struct PostgresQuery: Sendable, Equatable, ExpressibleByStringInterpolation,
    CustomStringConvertible
{
    /// One parameter in text format. `text == nil` is SQL NULL.
    struct Bind: Sendable, Equatable {
        var text: String?
        var typeOID: UInt32

        init(text: String?, typeOID: UInt32) {
            self.text = text
            self.typeOID = typeOID
        }

        init<Value: PostgresBindable>(_ value: Value) {
            self.init(text: value.postgresText, typeOID: Value.postgresTypeOID)
        }
    }

    /// The SQL with `$1`, `$2`... placeholders.
    public let sql: String
    let binds: [Bind]

    /// How many parameters the query carries.
    public var bindCount: Int { binds.count }

    /// For SQL that is not a literal, e.g. with a generated identifier. Only ever pass SQL the
    /// program itself built from constants: the values belong in `binds` (`$1`, `$2`... in order),
    /// never in `unsafeSQL`.
    public init(unsafeSQL: String, binds: [any PostgresBindable] = []) {
        self.sql = unsafeSQL
        self.binds = binds.map {
            Bind(text: $0.postgresText, typeOID: type(of: $0).postgresTypeOID)
        }
    }

    public init(stringLiteral value: String) {
        self.sql = value
        self.binds = []
    }

    public init(stringInterpolation: StringInterpolation) {
        self.sql = stringInterpolation.sql
        self.binds = stringInterpolation.binds
    }

    /// `$1`, `$2`... become `$(1 + offset)`...: only placeholders this type wrote look like
    /// that, since every literal piece comes from the program's source.
    static func renumbered(_ sql: String, after offset: Int) -> String {
        guard offset > 0 else { return sql }
        // On the UTF-8 bytes: `$` and ASCII digits are single bytes that never
        // occur inside a multi-byte character.
        var result: [UInt8] = []
        result.reserveCapacity(sql.utf8.count + 16)
        var number: Int?
        var inPlaceholder = false
        func flush() {
            if inPlaceholder {
                result.append(UInt8(ascii: "$"))
                if let number { result += String(number + offset).utf8 }
            }
            number = nil
            inPlaceholder = false
        }
        for byte in sql.utf8 {
            if inPlaceholder, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
                number = (number ?? 0) * 10 + Int(byte - UInt8(ascii: "0"))
                continue
            }
            flush()
            if byte == UInt8(ascii: "$") { inPlaceholder = true } else { result.append(byte) }
        }
        flush()
        return String(decoding: result, as: UTF8.self)
    }

    /// The SQL and the number of parameters, never their values (safe to log).
    public var description: String {
        binds.isEmpty ? sql : "\(sql) [\(binds.count) parameter\(binds.count == 1 ? "" : "s")]"
    }

    public struct StringInterpolation: StringInterpolationProtocol {
        var sql = ""
        var binds: [Bind] = []

        public init(literalCapacity: Int, interpolationCount: Int) {
            sql.reserveCapacity(literalCapacity + 3 * interpolationCount)
        }

        public mutating func appendLiteral(_ literal: String) {
            sql += literal
        }

        public mutating func appendInterpolation<Value: PostgresBindable>(_ value: Value) {
            binds.append(Bind(value))
            sql += "$\(binds.count)"
        }

        /// `nil` becomes SQL NULL. (A separate overload: without it the compiler warns, at every
        /// optional interpolated, that it "produces a debug description for an optional value",
        /// which is not the case here.)
        public mutating func appendInterpolation<Value: PostgresBindable>(_ value: Value?) {
            binds.append(Bind(value))
            sql += "$\(binds.count)"
        }

        /// Embeds another query, its parameters renumbered after this one's, e.g. a shared
        /// INSERT after a CTE: `"WITH u AS (UPDATE ...) \(fragment: insert)"`. Safe: the
        /// fragment is itself a `PostgresQuery`, values kept apart as parameters.
        public mutating func appendInterpolation(fragment: PostgresQuery) {
            sql += PostgresQuery.renumbered(fragment.sql, after: binds.count)
            binds += fragment.binds
        }

        /// Pastes SQL written in the source into the query, e.g. a shared column list:
        /// `static let columns: StaticString = "id, name"` then `"SELECT \(unescaped: columns) ..."`.
        /// `StaticString` can only be made from a literal, so no run-time value can get in here.
        public mutating func appendInterpolation(unescaped sql: StaticString) {
            sql.withUTF8Buffer { self.sql += String(decoding: $0, as: UTF8.self) }
        }
    }
}
