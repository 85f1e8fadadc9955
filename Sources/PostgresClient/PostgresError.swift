import Logging

/// Everything that can go wrong talking to PostgreSQL.
///
/// `description` is deliberately generic (what kind of failure, and the SQLSTATE) so that an error
/// that ends up in an HTTP response cannot leak schema, constraint names, row values or host names.
/// `debugDescription` and `logMetadata` carry the full detail, for logs. Note that the server's
/// `detail` can quote row values (a unique violation's detail is `Key (email)=(...) already
/// exists.`).
public struct PostgresError: Error, CustomStringConvertible, CustomDebugStringConvertible, Sendable
{
    public enum Kind: String, Sendable, Hashable {
        /// Could not open a connection (refused, timed out, authentication failed...).
        case connectionFailed
        /// The connection broke while in use, or was already closed.
        case connectionLost
        /// The server answered with an error; see `sqlState`.
        case server
        /// A value in a result could not be read as the asked-for type, or the column does not
        /// exist.
        case decoding
        /// The query could not be sent as given (e.g. a NUL character in the SQL or a parameter, or
        /// too many parameters); nothing reached the server.
        case invalidQuery
        /// No pooled connection became free within the pool's acquire timeout.
        case poolTimeout
        /// The pool was closed.
        case poolClosed
    }

    public var kind: Kind
    /// The five-character SQLSTATE (PG_DIAG_SQLSTATE), when the server sent one.
    public var sqlState: String?
    /// The server's primary message, or libpq's / this module's description of the failure.
    public var message: String
    public var detail: String?
    public var hint: String?
    /// The constraint the server named (PG_DIAG_CONSTRAINT_NAME).
    public var constraint: String?
    /// The table the server named (PG_DIAG_TABLE_NAME).
    public var table: String?
    /// The column the server named, or for `.decoding` the result column that could not be read.
    public var column: String?
    /// The SQL text (with `$N` placeholders; parameter values are never kept).
    public var query: String?
    /// Where the failing call was made.
    public var file: String
    public var line: Int

    public init(
        kind: Kind, message: String, sqlState: String? = nil, detail: String? = nil,
        hint: String? = nil,
        constraint: String? = nil, table: String? = nil, column: String? = nil,
        query: String? = nil,
        file: String = #fileID, line: Int = #line
    ) {
        self.kind = kind
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
        self.query = query
        self.file = file
        self.line = line
    }

    /// A `.decoding` error for a value a caller could not turn into its own type (e.g. an unknown
    /// enum case in a text column). Name the column; keep the value out of `message` if it may be
    /// sensitive.
    public static func decoding(
        column: String, message: String, file: String = #fileID, line: Int = #line
    ) -> PostgresError {
        PostgresError(kind: .decoding, message: message, column: column, file: file, line: line)
    }

    /// 23505: a unique or primary key constraint rejected the row.
    public var isUniqueViolation: Bool { sqlState == "23505" }
    /// 40001: a serializable / repeatable read transaction must be retried.
    public var isSerializationFailure: Bool { sqlState == "40001" }
    /// 40P01: the transaction was chosen as a deadlock victim and must be retried.
    public var isDeadlock: Bool { sqlState == "40P01" }
    /// A prepared statement's plan no longer fits the schema ("cached plan must not change result
    /// type"): prepare it again.
    public var isCachedPlanInvalid: Bool { sqlState == "0A000" && message.contains("cached plan") }

    /// The connection (not the query) is the problem: it could not be opened, it broke, or the
    /// server is shutting down or restarting (class 08, 57P01 admin shutdown, 57P02 crash shutdown,
    /// 57P03 cannot connect now).
    public var isConnectionProblem: Bool {
        if kind == .connectionFailed || kind == .connectionLost { return true }
        guard let sqlState else { return false }
        return sqlState.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(sqlState)
    }

    public var description: String {
        switch kind {
        case .connectionFailed: return "could not connect to PostgreSQL" + sqlStateSuffix
        case .connectionLost: return "lost the connection to PostgreSQL" + sqlStateSuffix
        case .server: return "PostgreSQL server error" + sqlStateSuffix
        case .decoding: return "could not decode a PostgreSQL result"
        case .invalidQuery: return "PostgreSQL query could not be sent"
        case .poolTimeout: return "timed out waiting for a PostgreSQL connection"
        case .poolClosed: return "the PostgreSQL connection pool is closed"
        }
    }

    private var sqlStateSuffix: String { sqlState.map { ", SQLSTATE \($0)" } ?? "" }

    /// `description` and what the server or libpq said (message, detail, hint),
    /// for the person at a terminal who ran a command. Never for an HTTP answer:
    /// it may name tables, roles and values. No SQL text.
    public var operatorDescription: String {
        var text = description
        let said = message.trimmingCharacters(in: .whitespacesAndNewlines)
        if !said.isEmpty && said != description { text += ": \(said)" }
        if let detail { text += "; detail: \(detail)" }
        if let hint { text += "; hint: \(hint)" }
        return text
    }

    /// Everything known, for logs.
    public var debugDescription: String {
        var text = "PostgresError.\(kind.rawValue)"
        if let sqlState { text += " SQLSTATE \(sqlState)" }
        text += ": \(message)"
        if let detail { text += "; detail: \(detail)" }
        if let hint { text += "; hint: \(hint)" }
        if let constraint { text += "; constraint: \(constraint)" }
        if let table { text += "; table: \(table)" }
        if let column { text += "; column: \(column)" }
        if let query { text += "; query: \(query)" }
        return text + " (at \(file):\(line))"
    }

    /// Everything known, as dotted `db.*` log metadata keys. The server's message and detail can
    /// quote values from the statement or its rows (`invalid input syntax for type integer: "..."`,
    /// `Key (email)=(...)`): this module's own log lines therefore use only `summaryMetadata`, and
    /// what to log beyond that is the caller's choice.
    public var logMetadata: Logger.Metadata {
        var metadata: Logger.Metadata = [
            "db.error.kind": "\(kind.rawValue)",
            "db.error.message": "\(message)",
            "db.error.source": "\(file):\(line)",
        ]
        if let sqlState { metadata["db.sqlstate"] = "\(sqlState)" }
        if let detail { metadata["db.error.detail"] = "\(detail)" }
        if let hint { metadata["db.error.hint"] = "\(hint)" }
        if let constraint { metadata["db.constraint"] = "\(constraint)" }
        if let table { metadata["db.table"] = "\(table)" }
        if let column { metadata["db.column"] = "\(column)" }
        if let query { metadata["db.query"] = "\(query)" }
        return metadata
    }

    /// Kind, SQLSTATE, SQL text (placeholders only) and source: nothing that can carry a value.
    public var summaryMetadata: Logger.Metadata {
        var metadata: Logger.Metadata = [
            "db.error.kind": "\(kind.rawValue)", "db.error.source": "\(file):\(line)",
        ]
        if let sqlState { metadata["db.sqlstate"] = "\(sqlState)" }
        if let query { metadata["db.query"] = "\(query)" }
        return metadata
    }
}
