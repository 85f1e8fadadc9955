import Foundation
import Testing
@testable import Gateway

@Suite struct GatewayConfigurationTests {
    let minimal = ["DATABASE_URL": "postgresql://x@h/db", "TENCENT_SDKAPPID": "1400000000", "TENCENT_SECRET_KEY": "k"]

    /// What the configuration says when it refuses `environment`; nil, with an
    /// issue recorded, when it accepts it.
    static func refusal(of environment: [String: String], sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        do {
            _ = try GatewayConfiguration(environment: environment)
            Issue.record("the configuration was accepted", sourceLocation: sourceLocation)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func defaults() throws {
        let c = try GatewayConfiguration(environment: minimal)
        #expect(c.listen == "127.0.0.1:8080")
        #expect(c.adminIdentifier == "administrator")
        #expect(c.endpoint == "china")
        #expect(c.importRate == 200 && c.batchRate == 100)
        #expect(c.idStrategy == .verbatim)
        #expect(c.waitMilliseconds == 3000)
        #expect(c.logLevel == .info)
        #expect(c.maxUnexplainedAttempts == 5)
        #expect(c.userSigValidity == 86_400)
        #expect(c.caFile == nil)
        #expect(c.upstreamTransport == nil)  // libcurl where it loads, URLSession otherwise
    }

    @Test func theUpstreamTransportIsChosenByName() throws {
        var env = minimal
        for transport in UpstreamTransport.allCases {
            env["TENCENT_TRANSPORT"] = transport.rawValue
            #expect(try GatewayConfiguration(environment: env).upstreamTransport == transport)
        }
        env["TENCENT_TRANSPORT"] = "nio"
        if let text = Self.refusal(of: env) {
            #expect(text.contains("TENCENT_TRANSPORT must be one of curl, urlsession (got 'nio')"))
        }
    }

    @Test func upstreamKnobs() throws {
        var env = minimal
        env["GATEWAY_MAX_UNEXPLAINED_ATTEMPTS"] = "3"
        env["TENCENT_USERSIG_VALIDITY"] = "3600"
        env["TENCENT_CA_FILE"] = "/etc/gateway/ca.pem"
        let c = try GatewayConfiguration(environment: env)
        #expect(c.maxUnexplainedAttempts == 3 && c.userSigValidity == 3600 && c.caFile == "/etc/gateway/ca.pem")
        env["TENCENT_USERSIG_VALIDITY"] = "60"  // shorter than a signature could be renewed in time
        #expect(throws: GatewayConfiguration.Error.self) { try GatewayConfiguration(environment: env) }
        env["TENCENT_USERSIG_VALIDITY"] = "3600"
        env["GATEWAY_MAX_UNEXPLAINED_ATTEMPTS"] = "0"
        #expect(throws: GatewayConfiguration.Error.self) { try GatewayConfiguration(environment: env) }
    }

    @Test func secretKeyFileWinsAndIsTrimmed() throws {
        let path = try temporarySecretFile("from-file\n", mode: 0o600)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var env = minimal
        env["TENCENT_SECRET_KEY_FILE"] = path
        #expect(try GatewayConfiguration(environment: env).secretKey == "from-file")
        try FileManager.default.setAttributes([.posixPermissions: 0o400], ofItemAtPath: path)
        #expect(try SecretFile.read(path) == "from-file")
    }

    @Test(arguments: [(0o644, "readable"), (0o640, "readable"), (0o604, "readable"), (0o620, "writable"), (0o602, "writable")])
    func secretKeyFileOthersMayReadIsRefused(mode: Int, problem: String) throws {
        let path = try temporarySecretFile("k", mode: mode)
        defer { try? FileManager.default.removeItem(atPath: path) }
        var env = minimal
        env["TENCENT_SECRET_KEY_FILE"] = path
        if let text = Self.refusal(of: env) {  // a key file of this mode must not be accepted
            #expect(text.contains("\(problem) by group or others (mode 0\(String(mode, radix: 8)))"), "\(text)")
            #expect(text.contains("chmod 600 \(path)"))
            #expect(!text.contains("k\n") && !text.contains("'k'"))
        }
    }

    @Test func secretKeyFileMissingOrEmpty() throws {
        let path = try temporarySecretFile(" \n", mode: 0o600)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(throws: SecretFile.Problem.empty(variable: "TENCENT_SECRET_KEY_FILE", path: path)) { try SecretFile.read(path) }
        #expect(throws: SecretFile.Problem.unreadable(variable: "TENCENT_SECRET_KEY_FILE", path: path + ".missing")) { try SecretFile.read(path + ".missing") }
    }

    @Test func everyProblemReportedAtOnceWithoutSecrets() {
        let env = ["TENCENT_SDKAPPID": "abc", "TENCENT_SECRET_KEY": "s3cr3t", "GATEWAY_WAIT_MS": "-1",
                   "GATEWAY_ID_STRATEGY": "md5", "LOG_LEVEL": "loud"]
        if let text = Self.refusal(of: env) {
            for name in ["DATABASE_URL", "TENCENT_SDKAPPID", "GATEWAY_WAIT_MS", "GATEWAY_ID_STRATEGY", "LOG_LEVEL"] {
                #expect(text.contains(name))
            }
            #expect(!text.contains("s3cr3t"))
        }
    }

    @Test func commandsWithoutTencentNeedOnlyTheDatabase() throws {
        _ = try GatewayConfiguration(environment: ["DATABASE_URL": "x"], requireTencent: false)
    }
}
