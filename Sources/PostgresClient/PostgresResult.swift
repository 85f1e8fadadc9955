import CLibPQ

/// What a statement returned, fully copied out of libpq's `PGresult` (which is cleared right
/// after).
public struct PostgresResult: Sendable, RandomAccessCollection {
    private let columns: PostgresColumns
    public let rows: [PostgresRow]
    /// The number of rows an INSERT/UPDATE/DELETE/SELECT/... touched (`PQcmdTuples`); 0 when the
    /// command reports none.
    public let affectedRows: Int
    /// The command tag, e.g. `INSERT 0 1`, `UPDATE 3`, `SELECT 2`, `COMMIT`.
    public let commandTag: String

    public var columnNames: [String] { columns.names }

    /// Copies everything out of `result`; the caller still owns (and clears) it.
    init(copying result: OpaquePointer) {
        let fieldCount = PQnfields(result)
        let rowCount = PQntuples(result)
        let columns = PostgresColumns((0..<fieldCount).map { String(cString: PQfname(result, $0)) })
        self.columns = columns
        rows = (0..<rowCount).map { row in
            let values: [String?] = (0..<fieldCount).map { field in
                if PQgetisnull(result, row, field) == 1 { return nil }
                // Text format never contains NUL, but take the length libpq reports rather than
                // scan for one.
                let bytes = UnsafeRawBufferPointer(
                    start: PQgetvalue(result, row, field),
                    count: Int(PQgetlength(result, row, field)))
                return String(decoding: bytes, as: UTF8.self)
            }
            return PostgresRow(columns: columns, values: values)
        }
        commandTag = String(cString: PQcmdStatus(result))
        affectedRows = Int(String(cString: PQcmdTuples(result))) ?? 0
    }

    public var startIndex: Int { rows.startIndex }
    public var endIndex: Int { rows.endIndex }
    public subscript(position: Int) -> PostgresRow { rows[position] }
}
