import CLibPQ
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One libpq connection. Every call blocks the calling thread until the server answers.
///
/// Deliberately not `Sendable`: a `PGconn` must only be used by one thread at a time, so a
/// connection lives on one thread (in a `PostgresPool`, the thread of its slot). `PGconn` and
/// `PGresult` never leave this type: results are copied into `PostgresResult` before `PQclear`.
public final class PostgresConnection {
    private var handle: OpaquePointer?
    private let notices: PostgresNoticeLogger
    private let logger: Logger
    /// The server process serving this connection (`pg_backend_pid()`).
    public let backendPID: Int32

    /// Connects (blocking, bounded by `connect_timeout`) and prepares the session: UTC, ISO dates,
    /// UTF-8, hex bytea, and the configured `application_name` / `statement_timeout`.
    public init(
        configuration: PostgresConfiguration, logger: Logger, file: String = #fileID,
        line: Int = #line
    ) throws {
        guard let handle = PQconnectdb(configuration.effectiveConnectionString) else {
            throw PostgresError(
                kind: .connectionFailed, message: "libpq could not allocate a connection",
                file: file, line: line)
        }
        guard PQstatus(handle) == CONNECTION_OK else {
            // libpq may quote the connection string it could not use.
            let message = configuration.scrub(Self.errorMessage(of: handle))
            PQfinish(handle)
            throw PostgresError(kind: .connectionFailed, message: message, file: file, line: line)
        }
        self.handle = handle
        self.backendPID = PQbackendPID(handle)
        var logger = logger
        logger[metadataKey: "db.backend_pid"] = "\(backendPID)"
        self.logger = logger
        self.notices = PostgresNoticeLogger(logger: logger)
        notices.install(on: handle)

        do {
            // The row accessors and timestamp/bytea parsing rely on these formats, whatever the
            // server's defaults.
            try executeScript(
                """
                SET TimeZone = 'UTC'; SET DateStyle = 'ISO';
                SET client_encoding = 'UTF8'; SET bytea_output = 'hex'
                """,
                file: file, line: line)
            // set_config takes parameters where SET cannot.
            if let name = configuration.applicationName {
                _ = try query(
                    "SELECT set_config('application_name', \(name), false)", file: file, line: line)
            }
            if let milliseconds = configuration.statementTimeoutMilliseconds {
                _ = try query(
                    "SELECT set_config('statement_timeout', \(String(milliseconds)), false)",
                    file: file, line: line)
            }
        } catch {
            close()
            throw error
        }
        logger.debug("PostgreSQL connection opened")
    }

    deinit {
        close()
    }

    /// Whether libpq considers the connection usable (`PQstatus` is OK); false after `close()` or a
    /// broken socket.
    public var isOpen: Bool {
        guard let handle else { return false }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Closes the connection (`PQfinish`). Safe to call more than once.
    public func close() {
        guard let handle else { return }
        PQfinish(handle)
        self.handle = nil
        logger.debug("PostgreSQL connection closed")
    }

    /// Runs one statement with its parameters (text format) and copies out the result.
    ///
    /// Statements are prepared once per connection (`PQprepare`, then `PQexecPrepared`): parsing
    /// and planning a statement can cost the server several times what running it does. Up to
    /// `maxPreparedStatements` distinct statements (SQL and parameter types) are kept; beyond that,
    /// and for a statement whose cached plan the server refuses after a schema change, the
    /// statement runs unprepared (`PQexecParams`).
    public func query(
        _ query: PostgresQuery, file: String = #fileID, line: Int = #line
    ) throws -> PostgresResult {
        let handle = try openHandle(query: query.sql, file: file, line: line)
        // C strings end at the first NUL: rather than silently cut the SQL or a value short,
        // refuse.
        if containsNUL(query.sql) || query.binds.contains(where: { $0.text.map(containsNUL) == true }) {
            throw PostgresError(
                kind: .invalidQuery, message: "the SQL or a parameter contains a NUL character",
                query: query.sql, file: file, line: line)
        }
        let values: [UnsafeMutablePointer<CChar>?] = query.binds.map { bind in
            bind.text.map { strdup($0)! }
        }
        defer { values.forEach { free($0) } }
        let types = query.binds.map(\.typeOID)
        let pointers = values.map { $0.map { UnsafePointer($0) } }
        let count = Int32(clamping: query.binds.count)
        let key = PreparedKey(sql: query.sql, types: types)
        guard let name = try preparedName(for: key, handle: handle, file: file, line: line) else {
            let result = PQexecParams(handle, query.sql, count, types, pointers, nil, nil, 0)
            return try consume(result, handle: handle, sql: query.sql, file: file, line: line)
        }
        do {
            let result = PQexecPrepared(handle, name, count, pointers, nil, nil, 0)
            return try consume(result, handle: handle, sql: query.sql, file: file, line: line)
        } catch let error as PostgresError where error.isCachedPlanInvalid {
            // The schema changed under the statement (e.g. a column added to a `*`): forget it and
            // run this once unprepared. Inside a transaction the error has already failed it.
            forget(key, name: name)
            guard PQtransactionStatus(handle) == PQTRANS_IDLE else { throw error }
            let result = PQexecParams(handle, query.sql, count, types, pointers, nil, nil, 0)
            return try consume(result, handle: handle, sql: query.sql, file: file, line: line)
        }
    }

    /// Distinct statements prepared per connection at most.
    public static let maxPreparedStatements = 256

    private struct PreparedKey: Hashable {
        var sql: String
        var types: [Oid]
    }

    /// Statement names by SQL and parameter types, for this connection's session.
    private var prepared: [PreparedKey: String] = [:]
    private var nextStatement = 0

    /// The name `key` is prepared under, preparing it now if need be; nil when the cache is full.
    /// A statement the server refuses to prepare throws the server's error, as running it would.
    private func preparedName(
        for key: PreparedKey, handle: OpaquePointer, file: String, line: Int
    ) throws -> String? {
        if let name = prepared[key] { return name }
        guard prepared.count < Self.maxPreparedStatements else { return nil }
        nextStatement += 1
        let name = "agw_\(nextStatement)"
        let result = PQprepare(handle, name, key.sql, Int32(clamping: key.types.count), key.types)
        _ = try consume(result, handle: handle, sql: key.sql, file: file, line: line)
        prepared[key] = name
        return name
    }

    private func forget(_ key: PreparedKey, name: String) {
        prepared[key] = nil
        // Outside a transaction the server can drop it now; inside, the session keeps it unused.
        if let handle, PQtransactionStatus(handle) == PQTRANS_IDLE {
            try? executeScript("DEALLOCATE \(name)")
        }
    }

    /// Runs a script of one or more statements with the simple query protocol (`PQexec`), as one
    /// implicit transaction unless it has its own BEGIN/COMMIT. No parameters: for static SQL such
    /// as migration files only.
    public func executeScript(_ sql: String, file: String = #fileID, line: Int = #line) throws {
        let handle = try openHandle(query: sql, file: file, line: line)
        if containsNUL(sql) {
            throw PostgresError(
                kind: .invalidQuery, message: "the SQL contains a NUL character", query: sql,
                file: file, line: line)
        }
        _ = try consume(PQexec(handle, sql), handle: handle, sql: sql, file: file, line: line)
    }

    /// Runs `body` inside BEGIN ... COMMIT. If `body` throws, the transaction is rolled back and
    /// the error rethrown; if COMMIT fails, its error is thrown. A transaction that already failed
    /// inside `body` (an error `body` caught) cannot commit: PostgreSQL answers COMMIT with
    /// ROLLBACK, and this throws SQLSTATE 25P02 instead of succeeding.
    public func withTransaction<T>(
        isolation: PostgresTransactionIsolation = .readCommitted, file: String = #fileID,
        line: Int = #line,
        _ body: (PostgresConnection) throws -> T
    ) throws -> T {
        _ = try query(
            PostgresQuery(unsafeSQL: "BEGIN ISOLATION LEVEL \(isolation.sql)"), file: file,
            line: line)
        let value: T
        do {
            value = try body(self)
        } catch {
            rollbackIfInTransaction()
            throw error
        }
        let commit = try query("COMMIT", file: file, line: line)
        if commit.commandTag == "ROLLBACK" {
            throw PostgresError(
                kind: .server, message: "the transaction had failed, so COMMIT rolled it back",
                sqlState: "25P02",
                query: "COMMIT", file: file, line: line)
        }
        return value
    }

    // MARK: - Pool support

    /// Checks an idle connection without a round trip. While idle the server only speaks to say it
    /// is closing the connection (e.g. `pg_terminate_backend`, a restart): read whatever is
    /// pending, without blocking, so that libpq notices the end of the stream and marks the
    /// connection bad.
    func isUsableWhenIdle() -> Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return false }
        let socket = PQsocket(handle)
        guard socket >= 0 else { return false }
        for _ in 0..<4 {  // typically: the FATAL message, then end-of-stream
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, 0) > 0 else { break }
            if PQconsumeInput(handle) == 0 { break }
        }
        return PQstatus(handle) == CONNECTION_OK
    }

    /// Makes the connection safe to hand to the next user: rolls back a transaction left open.
    /// False if it is broken or in a state it cannot be brought out of.
    func prepareForReuse() -> Bool {
        guard let handle, PQstatus(handle) == CONNECTION_OK else { return false }
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE:
            return true
        case PQTRANS_INTRANS, PQTRANS_INERROR:
            logger.warning(
                "a pooled PostgreSQL connection was returned inside a transaction; rolling it back")
            rollbackIfInTransaction()
            return isOpen && PQtransactionStatus(handle) == PQTRANS_IDLE
        default:
            return false
        }
    }

    // MARK: - Internals

    private func rollbackIfInTransaction() {
        guard let handle, PQstatus(handle) == CONNECTION_OK,
            PQtransactionStatus(handle) != PQTRANS_IDLE
        else { return }
        do {
            try executeScript("ROLLBACK")
        } catch let error as PostgresError {
            logger.warning("ROLLBACK failed", metadata: error.summaryMetadata)
        } catch {
            logger.warning("ROLLBACK failed")
        }
    }

    private func openHandle(query: String, file: String, line: Int) throws -> OpaquePointer {
        guard let handle else {
            throw PostgresError(
                kind: .connectionLost, message: "the connection is closed", query: query,
                file: file, line: line)
        }
        return handle
    }

    /// Turns a `PGresult` into a `PostgresResult` or a `PostgresError`, and always clears it.
    private func consume(
        _ result: OpaquePointer?, handle: OpaquePointer, sql: String, file: String, line: Int
    ) throws -> PostgresResult {
        guard let result else {
            // No result at all: the connection broke, or libpq refused the request (e.g. too many
            // parameters).
            let lost = PQstatus(handle) != CONNECTION_OK
            throw PostgresError(
                kind: lost ? .connectionLost : .invalidQuery,
                message: Self.errorMessage(of: handle),
                query: sql, file: file, line: line)
        }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresResult(copying: result)
        case PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH:
            // The protocol is now in COPY mode, which this client does not drive: the connection is
            // unusable.
            close()
            throw PostgresError(
                kind: .invalidQuery, message: "COPY is not supported; the connection was closed",
                query: sql, file: file, line: line)
        default:
            func field(_ code: Unicode.Scalar) -> String? {
                PQresultErrorField(result, Int32(code.value)).map { String(cString: $0) }
            }
            let lost = PQstatus(handle) != CONNECTION_OK
            let message = field("M") ?? String(cString: PQresultErrorMessage(result))
            let error = PostgresError(
                kind: lost ? .connectionLost : .server,
                message: message.trimmingTrailingNewlines, sqlState: field("C"), detail: field("D"),
                hint: field("H"), constraint: field("n"), table: field("t"), column: field("c"),
                query: sql,
                file: file, line: line)
            logger.debug("PostgreSQL statement failed", metadata: error.summaryMetadata)
            throw error
        }
    }

    private static func errorMessage(of handle: OpaquePointer) -> String {
        String(cString: PQerrorMessage(handle)).trimmingTrailingNewlines
    }
}

extension String {
    /// libpq ends its messages with a newline.
    fileprivate var trimmingTrailingNewlines: String {
        var text = Substring(self)
        while let last = text.last, last.isNewline { text.removeLast() }
        return String(text)
    }
}

/// Whether C would see the text end early. `memchr` over the UTF-8 bytes: the
/// check runs on every statement, and a byte-by-byte `contains` over a
/// kilobyte of SQL showed in profiles of the busiest path.
private func containsNUL(_ text: String) -> Bool {
    var text = text
    return text.withUTF8 { bytes in
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return false }
        return memchr(base, 0, bytes.count) != nil
    }
}
