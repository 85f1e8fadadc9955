import Foundation
import Testing

@testable import PostgresClient

extension DatabaseTests {
    /// Statements are prepared once per connection and run prepared from then on.
    @Suite struct PreparedStatementTests {
        func preparedCount(_ connection: PostgresConnection, like pattern: String) throws -> Int {
            try connection.query(
                "SELECT count(*) AS n FROM pg_prepared_statements WHERE statement LIKE \(pattern)")[0].int("n")
        }

        @Test func aRepeatedStatementIsPreparedOnceAndRunsWithNewValues() throws {
            let connection = try TestDatabase.connect()
            let marker = TestDatabase.uniqueName("prep")
            for value in 1...3 {
                let row = try connection.query("SELECT \(value) + 1 AS n, \(marker)::text AS marker")[0]
                #expect(try row.int("n") == value + 1)
            }
            #expect(try preparedCount(connection, like: "SELECT $1 + 1 AS n, $2::text AS marker") == 1)
        }

        @Test func aSchemaChangeUnderAPreparedStatementIsAbsorbed() throws {
            let connection = try TestDatabase.connect()
            let other = try TestDatabase.connect()
            let table = TestDatabase.uniqueName("prep_t")
            try connection.executeScript("CREATE TABLE \(table) (a int); INSERT INTO \(table) VALUES (1)")
            defer { try? other.executeScript("DROP TABLE IF EXISTS \(table)") }
            let select = PostgresQuery(unsafeSQL: "SELECT * FROM \(table)")
            #expect(try connection.query(select).columnNames == ["a"])
            try other.executeScript("ALTER TABLE \(table) ADD COLUMN b int")
            // The cached plan's result type changed: the statement runs again, with the new column.
            #expect(try connection.query(select).columnNames == ["a", "b"])
            #expect(try connection.query(select).columnNames == ["a", "b"])
        }

        @Test func aRefusedStatementThrowsTheServersErrorAndTheConnectionGoesOn() throws {
            let connection = try TestDatabase.connect()
            for _ in 0..<2 {
                let error = #expect(throws: PostgresError.self) {
                    try connection.query(PostgresQuery(unsafeSQL: "SELEC 1"))
                }
                #expect(error?.sqlState == "42601")
            }
            #expect(try connection.query("SELECT 1 AS one")[0].int("one") == 1)
            // And inside a failed transaction, as unprepared statements would.
            let error = #expect(throws: PostgresError.self) {
                try connection.withTransaction { connection in
                    _ = try? connection.query(PostgresQuery(unsafeSQL: "SELECT 1 / 0"))
                    _ = try connection.query("SELECT \(2) AS two")
                }
            }
            #expect(error?.sqlState == "25P02")
            #expect(try connection.query("SELECT \(2) AS two")[0].int("two") == 2)
        }

        @Test func pastTheLimitStatementsRunUnprepared() throws {
            let connection = try TestDatabase.connect()
            for index in 0..<(PostgresConnection.maxPreparedStatements + 5) {
                let row = try connection.query(PostgresQuery(unsafeSQL: "SELECT \(index) AS i"))[0]
                #expect(try row.int("i") == index)
            }
            #expect(try preparedCount(connection, like: "SELECT % AS i") == PostgresConnection.maxPreparedStatements)
        }
    }
}
