import Foundation
import Testing
import CLibPQ

@testable import PostgresClient

@Suite struct QueryBuildingTests {
    @Test func interpolatedValuesBecomeNumberedParameters() {
        let id = "abc"
        let limit = 10
        let query: PostgresQuery =
            "SELECT * FROM t WHERE id = \(id) AND n > \(limit) AND flag = \(true)"
        #expect(query.sql == "SELECT * FROM t WHERE id = $1 AND n > $2 AND flag = $3")
        #expect(
            query.binds == [
                .init(text: "abc", typeOID: 0), .init(text: "10", typeOID: 20),
                .init(text: "true", typeOID: 16),
            ])
    }

    @Test func everyBindableTypeHasItsTextAndType() throws {
        let date = Date(timeIntervalSince1970: 1_795_000_000.123456)
        let none: Int32? = nil
        let query: PostgresQuery = """
            \("s") \(Int(-1)) \(Int64.max) \(Int32.min) \(false) \(1.5) \([UInt8]([0, 255]))
            \(date) \(none)
            """
        #expect(
            query.binds == [
                .init(text: "s", typeOID: 0),
                .init(text: "-1", typeOID: 20),
                .init(text: "9223372036854775807", typeOID: 20),
                .init(text: "-2147483648", typeOID: 23),
                .init(text: "false", typeOID: 16),
                .init(text: "1.5", typeOID: 701),
                .init(text: "\\x00ff", typeOID: 17),
                .init(text: "2026-11-18T11:06:40.123456Z", typeOID: 1184),
                .init(text: nil, typeOID: 23),
            ])
    }

    @Test func specialDoublesUsePostgresSpellings() {
        #expect(Double.nan.postgresText == "NaN")
        #expect(Double.infinity.postgresText == "Infinity")
        #expect((-Double.infinity).postgresText == "-Infinity")
        #expect(0.1.postgresText == "0.1")
    }

    @Test func valuesAreNeverPartOfTheSQLOrTheDescription() {
        let hostile = "'; DROP TABLE accounts; --"
        let query: PostgresQuery = "SELECT \(hostile)"
        #expect(query.sql == "SELECT $1")
        #expect(!query.description.contains("DROP"))
        #expect(query.description == "SELECT $1 [1 parameter]")
    }

    @Test func staticSQLCanBePastedButOnlyFromLiterals() {
        let columns: StaticString = """
            id, name
            """
        let id = 7
        let query: PostgresQuery = "SELECT \(unescaped: columns) FROM t WHERE id = \(id)"
        #expect(query.sql == "SELECT id, name FROM t WHERE id = $1")
        #expect(query.binds == [.init(text: "7", typeOID: 20)])
    }

    @Test func unsafeSQLTakesItsBindsInOrder() {
        let query = PostgresQuery(
            unsafeSQL: "INSERT INTO t_1 VALUES ($1, $2)", binds: [7, Optional<String>.none])
        #expect(query.sql == "INSERT INTO t_1 VALUES ($1, $2)")
        #expect(query.binds == [.init(text: "7", typeOID: 20), .init(text: nil, typeOID: 0)])
        let literal: PostgresQuery = "SELECT 1"
        #expect(literal.bindCount == 0)
    }

    /// What `effectiveConnectionString` adds to a string that sets none of it.
    static let uriDefaults = "connect_timeout=5&keepalives_idle=30&keepalives_interval=10&keepalives_count=3&tcp_user_timeout=30000"
    static let conninfoDefaults = uriDefaults.replacingOccurrences(of: "&", with: " ")

    @Test(arguments: [
        ("postgresql://u@h:5432/db", "postgresql://u@h:5432/db?\(uriDefaults)"),
        ("postgres://u@h/db?sslmode=disable", "postgres://u@h/db?sslmode=disable&\(uriDefaults)"),
        ("postgresql://u@h/db?", "postgresql://u@h/db?\(uriDefaults)"),
        (
            "postgresql://u@h/db?connect_timeout=2",
            "postgresql://u@h/db?connect_timeout=2&\(uriDefaults.replacingOccurrences(of: "connect_timeout=5&", with: ""))"
        ),
        ("host=h dbname=db", "host=h dbname=db \(conninfoDefaults)"),
        (
            "host=h connect_timeout = 9 keepalives_idle=5 tcp_user_timeout=0",
            "host=h connect_timeout = 9 keepalives_idle=5 tcp_user_timeout=0 keepalives_interval=10 keepalives_count=3"
        ),
        (
            "host=h application_name=connect_timeout",
            "host=h application_name=connect_timeout \(conninfoDefaults)"
        ),
        ("", conninfoDefaults),
        (
            "host=h connect_timeout=1 keepalives_idle=1 keepalives_interval=1 keepalives_count=1 tcp_user_timeout=1",
            "host=h connect_timeout=1 keepalives_idle=1 keepalives_interval=1 keepalives_count=1 tcp_user_timeout=1"
        ),
    ])
    func timeoutsAndKeepalivesAreAddedWhenMissing(input: String, expected: String) {
        let effective = PostgresConfiguration(connectionString: input).effectiveConnectionString
        #expect(effective == expected)
        // This libpq knows every keyword added.
        var error: UnsafeMutablePointer<CChar>?
        let parsed = PQconninfoParse(effective, &error)
        #expect(parsed != nil, "\(error.map { String(cString: $0) } ?? "")")
        if let parsed { PQconninfoFree(parsed) }
        if let error { PQfreemem(error) }
    }

    @Test func statementTimeoutIsRoundedUpToMilliseconds() {
        func ms(_ duration: Duration?) -> Int64? {
            PostgresConfiguration(connectionString: "", statementTimeout: duration)
                .statementTimeoutMilliseconds
        }
        #expect(ms(nil) == nil)
        #expect(ms(.seconds(2)) == 2000)
        #expect(ms(.microseconds(1)) == 1)
        #expect(ms(.milliseconds(1500)) == 1500)
    }
}

@Suite struct TimestampTests {
    @Test func formatsRFC3339UTCWithMicroseconds() {
        #expect(
            PostgresTimestamp.format(Date(timeIntervalSince1970: 0))
                == "1970-01-01T00:00:00.000000Z")
        #expect(
            PostgresTimestamp.format(Date(timeIntervalSince1970: -0.5))
                == "1969-12-31T23:59:59.500000Z")
        #expect(
            PostgresTimestamp.format(Date(timeIntervalSince1970: 951_782_400))
                == "2000-02-29T00:00:00.000000Z")
        // 44 BC, the Ides of March (proleptic Gregorian, as PostgreSQL counts).
        let ides = Date(
            timeIntervalSince1970: Double(
                PostgresTimestamp.daysFromCivil(year: -43, month: 3, day: 15) * 86400))
        #expect(PostgresTimestamp.format(ides) == "0044-03-15T00:00:00.000000Z BC")
    }

    @Test(arguments: [
        ("2026-11-26 19:20:27.123456+00", 1_795_720_827.123456),
        ("2026-11-26 19:20:27+00", 1_795_720_827.0),
        ("2026-11-26 19:20:27.5+00", 1_795_720_827.5),
        ("2026-11-26T19:20:27.123456Z", 1_795_720_827.123456),
        ("2026-11-26 21:20:27.123456+02", 1_795_720_827.123456),
        ("2026-11-26 14:50:27.123456-04:30", 1_795_720_827.123456),
        ("2026-11-26 19:20:27", 1_795_720_827.0),
        ("1970-01-01", 0),
        ("1969-12-31 23:59:59.5+00", -0.5),
    ])
    func parsesISOTimestamps(text: String, seconds: Double) {
        #expect(PostgresTimestamp.parse(text) == Date(timeIntervalSince1970: seconds))
    }

    @Test func parsesBCAndRoundTrips() throws {
        let bc = try #require(PostgresTimestamp.parse("0044-03-15 12:00:00+00 BC"))
        #expect(PostgresTimestamp.format(bc) == "0044-03-15T12:00:00.000000Z BC")
        for seconds in [
            -62_135_596_800.0, -1.000001, 0, 1_795_720_827.123456, 253_402_300_799.999999,
        ] {
            let date = Date(timeIntervalSince1970: seconds)
            #expect(PostgresTimestamp.parse(PostgresTimestamp.format(date)) == date)
        }
    }

    @Test(arguments: [
        "", "infinity", "-infinity", "2026-02-30 00:00:00+00", "2026-13-01",
        "2026-11-26 24:00:00+00",
        "2026-11-26 19:20", "2026-11-26 19:20:27.+00", "2026-11-26 19:20:27+0", "26-11-26",
        "2026-11-26 19:20:27 +00", "2026-11-26 19:20:27.1234567890123456789+00",
    ])
    func rejectsWhatIsNotAFiniteTimestamp(text: String) {
        #expect(PostgresTimestamp.parse(text) == nil)
    }
}

@Suite struct ByteaAndRowDecodingTests {
    @Test func byteaHexRoundTrips() {
        let all = (0...255).map { UInt8($0) }
        #expect(PostgresBytea.decode(PostgresBytea.encode(all)) == all)
        #expect(PostgresBytea.encode([]) == "\\x")
        #expect(PostgresBytea.decode("\\x") == [])
        #expect(PostgresBytea.decode("\\xDEadBE") == [0xde, 0xad, 0xbe])
        #expect(PostgresBytea.decode("\\x0") == nil)
        #expect(PostgresBytea.decode("\\xzz") == nil)
        #expect(PostgresBytea.decode("abc") == nil)
    }

    @Test func typedAccessorsDecodeText() throws {
        let row = PostgresRow(
            columnNames: ["s", "i", "b", "d", "t", "x", "n"],
            values: ["hi", "-42", "t", "2.5", "2026-11-26 19:20:27.123456+00", "\\x0102", nil])
        #expect(try row.string("s") == "hi")
        #expect(try row.int("i") == -42)
        #expect(try row.int64("i") == -42)
        #expect(try row.bool("b"))
        #expect(try row.double("d") == 2.5)
        #expect(try row.date("t") == Date(timeIntervalSince1970: 1_795_720_827.123456))
        #expect(try row.bytes("x") == [1, 2])
        #expect(try row.optionalString("n") == nil)
        #expect(try row.optionalInt("n") == nil)
        #expect(try row.optionalDate("n") == nil)
        #expect(try row.optionalInt("i") == -42)
        #expect(row[0] == "hi")
        #expect(row.columnNames == ["s", "i", "b", "d", "t", "x", "n"])
    }

    @Test func decodingErrorsNameTheColumnButNotTheValue() throws {
        let row = PostgresRow(columnNames: ["email", "n"], values: ["secret@example.com", nil])
        for (column, access) in [
            ("email", { _ = try row.int("email") }),
            ("email", { _ = try row.bool("email") }),
            ("email", { _ = try row.date("email") }),
            ("email", { _ = try row.bytes("email") }),
            ("email", { _ = try row.double("email") }),
            ("n", { _ = try row.string("n") }),
            ("missing", { _ = try row.optionalString("missing") }),
        ] as [(String, () throws -> Void)] {
            let error = #expect(throws: PostgresError.self) { try access() }
            #expect(error?.kind == .decoding)
            #expect(error?.column == column)
            #expect(error?.debugDescription.contains("\"\(column)\"") == true)
            #expect(error?.debugDescription.contains("secret") == false)
            #expect(error?.description == "could not decode a PostgreSQL result")
        }
    }
}

@Suite struct PostgresErrorTests {
    @Test func descriptionIsGenericAndDebugDescriptionIsFull() {
        let error = PostgresError(
            kind: .server,
            message: "duplicate key value violates unique constraint \"accounts_email_key\"",
            sqlState: "23505", detail: "Key (email)=(a@b.c) already exists.",
            constraint: "accounts_email_key",
            table: "accounts", query: "INSERT INTO accounts VALUES ($1)")
        #expect(error.description == "PostgreSQL server error, SQLSTATE 23505")
        #expect("\(error)" == "PostgreSQL server error, SQLSTATE 23505")
        #expect(error.debugDescription.contains("accounts_email_key"))
        #expect(error.debugDescription.contains("QueryBuildingTests.swift"))
        #expect(error.logMetadata["db.sqlstate"] == "23505")
        #expect(error.logMetadata["db.constraint"] == "accounts_email_key")
        #expect(error.isUniqueViolation)
        #expect(!error.isConnectionProblem)
    }

    @Test func callersCanReportTheirOwnDecodingErrors() {
        let error = PostgresError.decoding(column: "status", message: "unknown status")
        #expect(error.kind == .decoding)
        #expect(error.column == "status")
        #expect(error.description == "could not decode a PostgreSQL result")
        #expect(error.file.hasSuffix("QueryBuildingTests.swift"))
    }

    @Test func classifiesRetryableAndConnectionErrors() {
        func error(_ kind: PostgresError.Kind, _ sqlState: String? = nil) -> PostgresError {
            PostgresError(kind: kind, message: "m", sqlState: sqlState)
        }
        #expect(error(.server, "40001").isSerializationFailure)
        #expect(error(.server, "40P01").isDeadlock)
        #expect(error(.connectionFailed).isConnectionProblem)
        #expect(error(.connectionLost).isConnectionProblem)
        for state in ["08006", "08001", "57P01", "57P02", "57P03"] {
            #expect(error(.server, state).isConnectionProblem)
        }
        #expect(!error(.server, "57014").isConnectionProblem)
        #expect(!error(.poolTimeout).isConnectionProblem)
        #expect(error(.poolTimeout).description == "timed out waiting for a PostgreSQL connection")
    }

    @Test func fragmentsAreRenumberedAfterTheOuterParameters() {
        let insert: PostgresQuery = "INSERT INTO log (a, b) VALUES (\("x"), \(2))"
        let query: PostgresQuery = "WITH u AS (UPDATE t SET v = \("y") WHERE id = \(1) RETURNING 1) \(fragment: insert)"
        #expect(query.sql == "WITH u AS (UPDATE t SET v = $1 WHERE id = $2 RETURNING 1) INSERT INTO log (a, b) VALUES ($3, $4)")
        #expect(query.bindCount == 4)
        #expect(PostgresQuery.renumbered("a = $1 AND b = $12 AND c = '$' AND $$", after: 3) == "a = $4 AND b = $15 AND c = '$' AND $$")
    }
}
