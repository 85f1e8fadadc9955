import Foundation
import PostgresClient
import Testing
@testable import Gateway

/// Secrets stay where they were put: not in descriptions, dumps, logs of connection
/// failures, or files others may read.
@Suite struct SecretsTests {
    let env = ["DATABASE_URL": "postgresql://svc:pa%24%24w0rd-9f3@db.internal:5432/agw", "TENCENT_SDKAPPID": "1400000000",
               "TENCENT_SECRET_KEY": "k3y-that-must-not-show"]

    @Test func aConfigurationNeverPrintsItsSecrets() throws {
        let configuration = try GatewayConfiguration(environment: env)
        var dumped = ""
        dump(configuration, to: &dumped)
        for text in ["\(configuration)", String(reflecting: configuration), dumped] {
            #expect(!text.contains("k3y-that-must-not-show"), "\(text)")
            #expect(!text.contains("pa%24%24w0rd") && !text.contains("pa$$w0rd"), "\(text)")
            #expect(text.contains("db.internal"), "what is not secret still shows")
        }
    }

    @Test func passwordsAreFoundInBothForms() {
        #expect(PostgresConfiguration.password(in: "postgresql://u:s3cret@h/db") == "s3cret")
        #expect(PostgresConfiguration.password(in: "postgresql://u:pa%24%24@h/db") == "pa$$")
        #expect(PostgresConfiguration.password(in: "host=h user=u password='s 3' dbname=d") == "s 3")
        #expect(PostgresConfiguration.password(in: "postgresql://u@h/db") == nil)
        #expect(PostgresConfiguration.password(in: "postgresql://u@h/db?password=q1") == "q1")
    }

    @Test func libpqMessagesAreScrubbed() {
        let configuration = PostgresConfiguration(connectionString: "postgresql://u:s3cret-Pw@h/db")
        #expect(configuration.scrub(#"could not parse "postgresql://u:s3cret-Pw@h/db""#) == #"could not parse "postgresql://u:***@h/db""#)
        #expect(!configuration.scrub("FATAL: s3cret-Pw was rejected").contains("s3cret-Pw"))
        #expect(configuration.scrub("missing \"=\" after \"x\" in \"host=h password=other user=u\"").contains("password=***"))
        #expect(!"\(configuration)".contains("s3cret-Pw"))
    }

    /// A connection that fails says why, without the password in its message.
    @Test func aFailedConnectionLogsNoPassword() throws {
        let configuration = PostgresConfiguration(
            connectionString: "postgresql://nobody:s3cret-Pw@127.0.0.1:1/db?sslmode=disable", defaultConnectTimeout: 1)
        do {
            _ = try PostgresConnection(configuration: configuration, logger: TestLogger.make())
            Issue.record("connected to port 1")
        } catch let error as PostgresError {
            #expect(!error.message.contains("s3cret-Pw") && !error.debugDescription.contains("s3cret-Pw"))
        }
    }

    @Test func theDatabaseURLCanComeFromAFileOnlyItsOwnerReads() throws {
        var environment = env
        environment["DATABASE_URL"] = nil
        let path = try temporarySecretFile("postgresql://svc:pw@db/agw\n", mode: 0o600)
        defer { try? FileManager.default.removeItem(atPath: path) }
        environment["DATABASE_URL_FILE"] = path
        #expect(try GatewayConfiguration(environment: environment).databaseURL == "postgresql://svc:pw@db/agw")
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: path)
        #expect(throws: GatewayConfiguration.Error.self) { try GatewayConfiguration(environment: environment) }
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        environment["DATABASE_URL"] = "postgresql://other@db/agw"
        if let text = GatewayConfigurationTests.refusal(of: environment) {  // both must not be accepted
            #expect(text.contains("not both"))
        }
    }
}
