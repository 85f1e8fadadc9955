import Foundation
import Testing

@testable import PostgresClient

extension DatabaseTests {
    @Suite struct ConnectionTests {
        @Test func sessionIsPreparedAfterConnect() throws {
            let name = TestDatabase.uniqueName("conn_settings")
            let connection = try TestDatabase.connect(
                applicationName: name, statementTimeout: .milliseconds(1500))
            let row = try connection.query(
                """
                SELECT current_setting('TimeZone') AS tz,
                       current_setting('DateStyle') AS ds,
                       current_setting('client_encoding') AS enc,
                       current_setting('bytea_output') AS bo,
                       current_setting('application_name') AS app,
                       current_setting('statement_timeout') AS st
                """)[0]
            #expect(try row.string("tz") == "UTC")
            #expect(try row.string("ds").hasPrefix("ISO"))
            #expect(try row.string("enc") == "UTF8")
            #expect(try row.string("bo") == "hex")
            #expect(try row.string("app") == name)
            #expect(try row.string("st") == "1500ms")
            #expect(connection.isOpen)
            #expect(connection.backendPID > 0)
            connection.close()
            #expect(!connection.isOpen)
            let error = #expect(throws: PostgresError.self) { try connection.query("SELECT 1") }
            #expect(error?.kind == .connectionLost)
        }

        @Test func everyBindableTypeArrivesWithItsType() throws {
            let connection = try TestDatabase.connect()
            let row = try connection.query(
                """
                SELECT pg_typeof(\("s")::text)::text AS s, pg_typeof(\(1))::text AS i,
                       pg_typeof(\(Int64(1)))::text AS i64, pg_typeof(\(Int32(1)))::text AS i32,
                       pg_typeof(\(true))::text AS b, pg_typeof(\(1.5))::text AS d,
                       pg_typeof(\([UInt8]([1])))::text AS x, pg_typeof(\(Date()))::text AS t,
                       pg_typeof(\(Int?.none))::text AS n
                """)[0]
            #expect(
                row.values == [
                    "text", "bigint", "bigint", "integer", "boolean", "double precision", "bytea",
                    "timestamp with time zone", "bigint",
                ])
        }

        @Test func staticColumnListsAreUsableInQueries() throws {
            let connection = try TestDatabase.connect()
            try connection.executeScript("CREATE TEMP TABLE listed (id int, name text, secret text)")
            _ = try connection.query("INSERT INTO listed VALUES (1, \("one"), \("x"))")
            let columns: StaticString = "id, name"
            let result = try connection.query(
                "SELECT \(unescaped: columns) FROM listed WHERE id = \(1)")
            #expect(result.columnNames == ["id", "name"])
            #expect(try result[0].string("name") == "one")
        }

        @Test func valuesOfEveryTypeRoundTripThroughATable() throws {
            let connection = try TestDatabase.connect()
            try connection.executeScript(
                """
                CREATE TEMP TABLE every_type (
                    s text, i bigint, i64 bigint, i32 integer, b boolean, d double precision,
                    x bytea, t timestamptz)
                """)
            let date = Date(timeIntervalSince1970: 1_795_720_827.123456)
            let insert = try connection.query(
                """
                INSERT INTO every_type VALUES (
                    \("text"), \(Int.min), \(Int64.max), \(Int32.max), \(true), \(-0.25),
                    \([UInt8]([0, 1, 254, 255])), \(date))
                """)
            #expect(insert.affectedRows == 1)
            #expect(insert.commandTag == "INSERT 0 1")
            let nulls: (String?, Int?, Int64?, Int32?, Bool?, Double?, [UInt8]?, Date?) = (
                nil, nil, nil, nil, nil, nil, nil, nil
            )
            _ = try connection.query(
                """
                INSERT INTO every_type VALUES (
                    \(nulls.0), \(nulls.1), \(nulls.2), \(nulls.3),
                    \(nulls.4), \(nulls.5), \(nulls.6), \(nulls.7))
                """)

            let rows = try connection.query("SELECT * FROM every_type ORDER BY s NULLS LAST")
            #expect(rows.count == 2)
            #expect(rows.columnNames == ["s", "i", "i64", "i32", "b", "d", "x", "t"])
            let row = rows[0]
            #expect(try row.string("s") == "text")
            #expect(try row.int("i") == Int.min)
            #expect(try row.int64("i64") == Int64.max)
            #expect(try row.int("i32") == Int(Int32.max))
            #expect(try row.bool("b") == true)
            #expect(try row.double("d") == -0.25)
            #expect(try row.bytes("x") == [0, 1, 254, 255])
            #expect(try row.date("t") == date)

            let empty = rows[1]
            #expect(empty.values.allSatisfy { $0 == nil })
            #expect(try empty.optionalString("s") == nil)
            #expect(try empty.optionalInt("i") == nil)
            #expect(try empty.optionalInt64("i64") == nil)
            #expect(try empty.optionalBool("b") == nil)
            #expect(try empty.optionalDouble("d") == nil)
            #expect(try empty.optionalBytes("x") == nil)
            #expect(try empty.optionalDate("t") == nil)
            // A NULL bound parameter is SQL NULL, not the text "NULL" or an empty string.
            let isNull = try connection.query(
                "SELECT \(String?.none)::text IS NULL AS s, \(Int?.none) IS NULL AS i")
            #expect(try isNull[0].bool("s"))
            #expect(try isNull[0].bool("i"))
        }

        @Test func stringsAreUntypedLikeQuotedLiterals() throws {
            let connection = try TestDatabase.connect()
            try connection.executeScript(
                """
                CREATE TEMP TABLE typed (id uuid PRIMARY KEY, doc jsonb, n int, mood text);
                """)
            let id = "6f1c2a8e-4b9d-4c3e-9a7b-2d5e8f0a1b3c"
            _ = try connection.query(
                "INSERT INTO typed VALUES (\(id), \(#"{"a": 1}"#), \("7"), \("ok"))")
            let row = try connection.query(
                "SELECT doc->>'a' AS a, n FROM typed WHERE id = \(id) AND n = \("7")")[0]
            #expect(try row.string("a") == "1")
            #expect(try row.int("n") == 7)
            // With no context to infer from, the server cannot type it: cast explicitly.
            let error = #expect(throws: PostgresError.self) {
                try connection.query("SELECT \("x") IS NULL")
            }
            #expect(error?.sqlState == "42P18")
            #expect(
                try connection.query("SELECT \("x")::text IS NULL AS null")[0].bool("null") == false
            )
        }

        @Test func specialDoublesRoundTrip() throws {
            let connection = try TestDatabase.connect()
            for value in [
                Double.infinity, -Double.infinity, 0.1, 1e-300, Double.greatestFiniteMagnitude,
            ] {
                #expect(try connection.query("SELECT \(value) AS v")[0].double("v") == value)
            }
            #expect(try connection.query("SELECT \(Double.nan) AS v")[0].double("v").isNaN)
        }

        @Test func byteaRoundTripsEveryByte() throws {
            let connection = try TestDatabase.connect()
            // With NUL bytes and a literal `\x` inside.
            let all = (0...255).map { UInt8($0) } + [0, 0, 92, 120]
            let row = try connection.query(
                "SELECT \(all) AS b, length(\(all)) AS n, \([UInt8]()) AS e")[0]
            #expect(try row.bytes("b") == all)
            #expect(try row.int("n") == all.count)
            #expect(try row.bytes("e") == [])
        }

        @Test func unicodeRoundTrips() throws {
            let connection = try TestDatabase.connect()
            let text = "héllo wörld — 你好, мир 🎉👩‍👩‍👧 \u{1F1EB}\u{1F1F7} e\u{301}"
            let row = try connection.query(
                "SELECT \(text) AS t, char_length(\(text)) AS n, octet_length(\(text)) AS o")[0]
            #expect(try row.string("t") == text)
            #expect(try row.int("n") == text.unicodeScalars.count)
            #expect(try row.int("o") == text.utf8.count)
        }

        @Test func injectionAttemptsAreStoredLiterally() throws {
            let connection = try TestDatabase.connect()
            try connection.executeScript(
                "CREATE TEMP TABLE notes (id bigint PRIMARY KEY, body text NOT NULL)")
            let hostile = [
                "'); DROP TABLE notes; --", "O'Brien", "\\'; SELECT 1; --", "$1", "$$ dollar $$",
                "\"quoted\"", "\\x41",
                "' OR '1'='1",
            ]
            for (id, body) in hostile.enumerated() {
                _ = try connection.query("INSERT INTO notes (id, body) VALUES (\(id), \(body))")
            }
            let stored = try connection.query("SELECT body FROM notes ORDER BY id").map {
                try $0.string("body")
            }
            #expect(stored == hostile)
            let match = try connection.query(
                "SELECT count(*) AS n FROM notes WHERE body = \("' OR '1'='1")")
            #expect(try match[0].int("n") == 1)
        }

        @Test func nulCharactersAreRefusedNotTruncated() throws {
            let connection = try TestDatabase.connect()
            let error = #expect(throws: PostgresError.self) {
                try connection.query("SELECT \("abc\u{0}def")")
            }
            #expect(error?.kind == .invalidQuery)
            // In the SQL itself, far from its start, and in a script.
            let padding = String(repeating: " ", count: 2000)
            for sql in ["SELECT 1\(padding)\u{0}", "SELECT \u{0}1", "\u{0}"] {
                let statement = #expect(throws: PostgresError.self) { try connection.query(PostgresQuery(unsafeSQL: sql, binds: [])) }
                let script = #expect(throws: PostgresError.self) { try connection.executeScript(sql) }
                #expect(statement?.kind == .invalidQuery && script?.kind == .invalidQuery)
            }
            #expect(try connection.query("SELECT 1 AS one")[0].int("one") == 1)
        }

        @Test func tooManyParametersAreRefusedBeforeSending() throws {
            let connection = try TestDatabase.connect()
            let binds = Array(repeating: 1 as any PostgresBindable, count: 70_000)
            let error = #expect(throws: PostgresError.self) {
                try connection.query(PostgresQuery(unsafeSQL: "SELECT 1", binds: binds))
            }
            #expect(error?.kind == .invalidQuery)
            #expect(connection.isOpen)
            #expect(try connection.query("SELECT 1 AS one")[0].int("one") == 1)
        }

        @Test func timestamptzRoundTripsToTheMicrosecond() throws {
            let connection = try TestDatabase.connect()
            let date = Date(timeIntervalSince1970: 1_795_720_827.123456)
            let row = try connection.query(
                """
                SELECT \(date) AS t, (\(date))::text AS text,
                       extract(epoch FROM \(date))::text AS epoch,
                       \(date) = '2026-11-26 19:20:27.123456+00'::timestamptz AS same,
                       '2026-11-26 19:20:27+00'::timestamptz AS whole,
                       '0044-03-15 12:00:00+00 BC'::timestamptz AS bc

                """)[0]
            #expect(try row.date("t") == date)
            #expect(try row.string("text") == "2026-11-26 19:20:27.123456+00")
            #expect(try row.string("epoch") == "1795720827.123456")
            #expect(try row.bool("same"))
            #expect(try row.date("whole") == Date(timeIntervalSince1970: 1_795_720_827))
            #expect(
                PostgresTimestamp.format(try row.date("bc")) == "0044-03-15T12:00:00.000000Z BC")
            let now = Date()
            let fromServer = try connection.query("SELECT \(now) AS t")[0].date("t")
            #expect(abs(fromServer.timeIntervalSince(now)) < 0.000_001)
            let infinite = #expect(throws: PostgresError.self) {
                try connection.query("SELECT 'infinity'::timestamptz AS forever")[0].date("forever")
            }
            #expect(infinite?.column == "forever")
        }

        @Test func decodingErrorsNameTheColumn() throws {
            let connection = try TestDatabase.connect()
            let row = try connection.query(
                "SELECT 'abc' AS name, NULL::int AS missing_value, 1.5 AS ratio")[0]
            let notInt = #expect(throws: PostgresError.self) { try row.int("name") }
            #expect(notInt?.kind == .decoding)
            #expect(notInt?.column == "name")
            let null = #expect(throws: PostgresError.self) { try row.int("missing_value") }
            #expect(null?.column == "missing_value")
            #expect(null?.debugDescription.contains("NULL") == true)
            let absent = #expect(throws: PostgresError.self) { try row.string("nope") }
            #expect(absent?.column == "nope")
            #expect(try row.double("ratio") == 1.5)
        }

        @Test func uniqueViolationCarriesSQLStateAndConstraintButDescriptionStaysGeneric() throws {
            let connection = try TestDatabase.connect()
            try connection.executeScript(
                "CREATE TEMP TABLE accounts (email text CONSTRAINT accounts_email_key UNIQUE)")
            _ = try connection.query("INSERT INTO accounts VALUES (\("a@example.com"))")
            let error = #expect(throws: PostgresError.self) {
                try connection.query("INSERT INTO accounts VALUES (\("a@example.com"))")
            }
            #expect(error?.kind == .server)
            #expect(error?.sqlState == "23505")
            #expect(error?.isUniqueViolation == true)
            #expect(error?.constraint == "accounts_email_key")
            #expect(error?.table == "accounts")
            #expect(error?.query == "INSERT INTO accounts VALUES ($1)")
            #expect(error?.description == "PostgreSQL server error, SQLSTATE 23505")
            #expect(error?.debugDescription.contains("accounts_email_key") == true)
            // For a command's operator: what the server said, with its detail, and no SQL.
            #expect(error?.operatorDescription == "PostgreSQL server error, SQLSTATE 23505: duplicate key value violates "
                    + "unique constraint \"accounts_email_key\"; detail: Key (email)=(a@example.com) already exists.")
            #expect(error?.file.hasSuffix("ConnectionTests.swift") == true)
            // The connection is still usable after a server error.
            #expect(try connection.query("SELECT count(*) AS n FROM accounts")[0].int("n") == 1)
        }

        @Test func syntaxErrorCarriesSQLState() throws {
            let connection = try TestDatabase.connect()
            let error = #expect(throws: PostgresError.self) { try connection.query("SELEC 1") }
            #expect(error?.sqlState == "42601")
            #expect(error?.description == "PostgreSQL server error, SQLSTATE 42601")
            #expect(error?.isConnectionProblem == false)
            #expect(error?.logMetadata["db.sqlstate"] == "42601")
        }

        @Test func executeScriptRunsSeveralStatementsAndReportsFailures() throws {
            let connection = try TestDatabase.connect()
            try connection.executeScript(
                """
                CREATE TEMP TABLE migrated (id int);
                INSERT INTO migrated VALUES (1), (2);
                -- a comment
                UPDATE migrated SET id = id * 10;
                """)
            let ids = try connection.query("SELECT id FROM migrated ORDER BY id").map {
                try $0.int("id")
            }
            #expect(ids == [10, 20])
            // A failing script is one implicit transaction: nothing of it stays.
            let error = #expect(throws: PostgresError.self) {
                try connection.executeScript(
                    "INSERT INTO migrated VALUES (3); INSERT INTO nowhere VALUES (1);")
            }
            #expect(error?.sqlState == "42P01")
            #expect(try connection.query("SELECT count(*) AS n FROM migrated")[0].int("n") == 2)
        }

        @Test func affectedRowsCountsTouchedRows() throws {
            let connection = try TestDatabase.connect()
            try connection.executeScript(
                "CREATE TEMP TABLE counted AS SELECT generate_series(1, 5) AS n")
            #expect(
                try connection.query("UPDATE counted SET n = n + 1 WHERE n > \(2)").affectedRows
                    == 3)
            #expect(try connection.query("DELETE FROM counted WHERE n > \(100)").affectedRows == 0)
            #expect(try connection.query("SELECT * FROM counted").affectedRows == 5)
            #expect(try connection.query("SET search_path = public").affectedRows == 0)
        }

        @Test func statementTimeoutCancelsLongStatements() throws {
            let connection = try TestDatabase.connect(statementTimeout: .milliseconds(100))
            let error = #expect(throws: PostgresError.self) {
                try connection.query("SELECT pg_sleep(2)")
            }
            #expect(error?.sqlState == "57014")
            #expect(connection.isOpen)
        }

        @Test func transactionsCommitAndRollBack() throws {
            let connection = try TestDatabase.connect()
            let observer = try TestDatabase.connect()
            let table = TestDatabase.uniqueName("tx_test")
            try connection.executeScript("CREATE TABLE \(table) (id bigint PRIMARY KEY)")
            defer { try? connection.executeScript("DROP TABLE IF EXISTS \(table)") }
            func insert(_ id: Int) -> PostgresQuery {
                PostgresQuery(unsafeSQL: "INSERT INTO \(table) VALUES ($1)", binds: [id])
            }
            func ids() throws -> [Int] {
                try observer.query(PostgresQuery(unsafeSQL: "SELECT id FROM \(table) ORDER BY id"))
                    .map { try $0.int("id") }
            }

            let value = try connection.withTransaction { connection in
                _ = try connection.query(insert(1))
                #expect(try ids() == [])  // not visible before COMMIT
                return "done"
            }
            #expect(value == "done")
            #expect(try ids() == [1])

            struct Abort: Error {}
            #expect(throws: Abort.self) {
                try connection.withTransaction { connection in
                    _ = try connection.query(insert(2))
                    throw Abort()
                }
            }
            #expect(try ids() == [1])

            // A failure the body swallowed still dooms the transaction: COMMIT must not pretend it
            // worked.
            let swallowed = #expect(throws: PostgresError.self) {
                try connection.withTransaction { connection in
                    _ = try connection.query(insert(3))
                    _ = try? connection.query(insert(1))  // duplicate key, caught
                }
            }
            #expect(swallowed?.sqlState == "25P02")
            #expect(try ids() == [1])
            // Not stuck in a transaction:
            #expect(try connection.query("SELECT 1 AS one")[0].int("one") == 1)
        }

        @Test func commitFailureIsThrown() throws {
            let connection = try TestDatabase.connect()
            try connection.executeScript(
                """
                CREATE TEMP TABLE deferred_unique (
                    id int CONSTRAINT deferred_unique_id UNIQUE DEFERRABLE INITIALLY DEFERRED)
                """)
            let error = #expect(throws: PostgresError.self) {
                try connection.withTransaction { connection in
                    // Checked at COMMIT.
                    _ = try connection.query("INSERT INTO deferred_unique VALUES (1), (1)")
                }
            }
            #expect(error?.isUniqueViolation == true)
            #expect(error?.query == "COMMIT")
            #expect(
                try connection.query("SELECT count(*) AS n FROM deferred_unique")[0].int("n") == 0)
        }

        @Test(arguments: [
            (PostgresTransactionIsolation.readCommitted, "read committed"),
            (.repeatableRead, "repeatable read"), (.serializable, "serializable"),
        ])
        func transactionIsolationIsApplied(
            isolation: PostgresTransactionIsolation, expected: String
        ) throws {
            let connection = try TestDatabase.connect()
            let level = try connection.withTransaction(isolation: isolation) { connection in
                try connection.query("SELECT current_setting('transaction_isolation') AS level")[0]
                    .string("level")
            }
            #expect(level == expected)
        }

        @Test func connectingToAClosedPortFailsFast() throws {
            let start = ContinuousClock.now
            let error = #expect(throws: PostgresError.self) {
                try PostgresConnection(
                    configuration: PostgresConfiguration(
                        connectionString: TestDatabase.closedPortURL),
                    logger: TestDatabase.logger)
            }
            #expect(ContinuousClock.now - start < .seconds(3))
            #expect(error?.kind == .connectionFailed)
            #expect(error?.isConnectionProblem == true)
            #expect(error?.description == "could not connect to PostgreSQL")
            #expect(error?.debugDescription.contains("127.0.0.1") == true)
            _ = try TestDatabase.url()  // the suite still needs a real database
        }

        @Test func aTerminatedBackendIsReportedAsAConnectionProblem() throws {
            let victim = try TestDatabase.connect()
            let killer = try TestDatabase.connect()
            let killed = try killer.query(
                "SELECT pg_terminate_backend(\(victim.backendPID), 5000) AS done")[0]
            #expect(try killed.bool("done"))
            let error = #expect(throws: PostgresError.self) { try victim.query("SELECT 1") }
            #expect(error?.isConnectionProblem == true)
            #expect(!victim.isOpen)
            #expect(victim.isUsableWhenIdle() == false)
        }

        @Test func idleCheckNoticesAServerSideClose() throws {
            let victim = try TestDatabase.connect()
            #expect(victim.isUsableWhenIdle())
            let killer = try TestDatabase.connect()
            _ = try killer.query("SELECT pg_terminate_backend(\(victim.backendPID), 5000)")
            try waitUntilSync { !victim.isUsableWhenIdle() }
            #expect(!victim.isOpen)
        }
    }
}

/// For synchronous tests: polls `condition` for up to two seconds.
func waitUntilSync(
    sourceLocation: SourceLocation = #_sourceLocation, _ condition: () -> Bool
) throws {
    for _ in 0..<200 {
        if condition() { return }
        usleep(10_000)
    }
    Issue.record("condition not met within 2 s", sourceLocation: sourceLocation)
}
