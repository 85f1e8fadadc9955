import ArgumentParser
import Foundation
import Gateway
import HTTPServer
import Logging
import TencentSandbox

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "A local stand-in for Tencent Chat's account REST API, for make run and tests.",
        discussion: """
            Uses TENCENT_SDKAPPID, TENCENT_SECRET_KEY_FILE / TENCENT_SECRET_KEY and TENCENT_ADMIN like serve, so the two
            agree. Verifies every UserSig and enforces Tencent's per-API call rates. Inspect it at GET /sandbox/stats,
            GET /sandbox/accounts/{UserID} and GET /sandbox/codes. Change it while it runs: PUT /sandbox/faults,
            PUT or DELETE /sandbox/code (every call answers that code), PUT or DELETE /sandbox/accounts/{UserID}/code
            (imports of that UserID fail with it), POST /sandbox/reset.
            """)

    @Option(name: .customLong("listen"), help: "address:port to listen on (:0 picks a free port and logs it).")
    var listen: String = "127.0.0.1:9090"

    @Option(name: .customLong("error-rate"), help: "Fraction (0–1) of calls answered with one of --error-codes.")
    var errorRate: Double = 0

    @Option(name: .customLong("error-codes"), help: "Comma-separated Tencent error codes injected by --error-rate.")
    var errorCodes: String = "70500,60008"

    @Option(name: .customLong("http502-rate"), help: "Fraction (0–1) of calls answered with HTTP 502.")
    var http502Rate: Double = 0

    @Option(name: .customLong("lost-response-rate"), help: "Fraction (0–1) of calls that take effect but answer one of --error-codes anyway, as a timeout after the commit would.")
    var lostResponseRate: Double = 0

    @Option(name: .customLong("drop-rate"), help: "Fraction (0–1) of calls that take effect but drop the connection unanswered.")
    var dropRate: Double = 0

    @Option(name: .customLong("latency-ms"), help: "Time to answer each call, after it is counted on arrival: N or MIN-MAX milliseconds.")
    var latency: String?

    @Option(name: .customLong("import-rate"), help: "account_import calls per second (Tencent: 200).")
    var importRate: Int = 200

    @Option(name: .customLong("batch-rate"), help: "multiaccount_import calls per second (Tencent: 100).")
    var batchRate: Int = 100

    @Option(name: .customLong("account-quota"), help: "Accounts before 70398 (the edition's quota); default unlimited.")
    var accountQuota: Int?

    func run() async throws {
        let env = ProcessInfo.processInfo.environment
        LogSetup.bootstrapJSON(level: env["LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0.lowercased()) } ?? .info)
        let logger = Logger(label: "tencent-sandbox")

        guard let sdkAppID = env["TENCENT_SDKAPPID"].flatMap(Int.init), sdkAppID > 0 else {
            throw ValidationError("TENCENT_SDKAPPID must be set to a positive integer")
        }
        let secretKey: String
        if let path = env["TENCENT_SECRET_KEY_FILE"], !path.isEmpty {
            do { secretKey = try SecretFile.read(path) } catch { throw ValidationError(error.description) }
        } else if let key = env["TENCENT_SECRET_KEY"], !key.isEmpty {
            secretKey = key
        } else {
            throw ValidationError("TENCENT_SECRET_KEY_FILE or TENCENT_SECRET_KEY must be set")
        }
        for (name, rate) in [("--error-rate", errorRate), ("--http502-rate", http502Rate), ("--lost-response-rate", lostResponseRate), ("--drop-rate", dropRate)]
        where !(0...1).contains(rate) {
            throw ValidationError("\(name) must be between 0 and 1")
        }

        var configuration = SandboxConfiguration(sdkAppID: sdkAppID, secretKey: secretKey)
        configuration.adminIdentifiers = [env["TENCENT_ADMIN"].flatMap { $0.isEmpty ? nil : $0 } ?? "administrator"]
        configuration.rates[.accountImport] = importRate
        configuration.rates[.multiaccountImport] = batchRate
        configuration.errorRate = errorRate
        configuration.errorCodes = try errorCodes.split(separator: ",").map {
            guard let code = Int($0.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("bad --error-codes entry '\($0)'") }
            return code
        }
        configuration.http502Rate = http502Rate
        configuration.lostResponseRate = lostResponseRate
        configuration.dropRate = dropRate
        configuration.accountQuota = accountQuota
        if let latency { configuration.latency = try Self.parseLatency(latency) }

        let address: ListenAddress
        do { address = try ListenAddress(parsing: listen) } catch { throw ValidationError("\(error)") }
        let sandbox = SandboxService(configuration: configuration, logger: logger)
        let server = HTTPServer(configuration: HTTPServer.Configuration(address: address), logger: logger, handler: sandbox.handler)
        let port = try await server.start()
        logger.info("sandbox listening", metadata: ["http.address": "\(address.host):\(port)", "tencent.sdkappid": "\(sdkAppID)"])
        await ShutdownSignal.wait(logger: logger)
        await server.stop(gracePeriod: .seconds(5))
    }

    static func parseLatency(_ text: String) throws -> SandboxLatency {
        let parts = text.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        switch parts.count {
        case 1: if let ms = parts[0], ms >= 0 { return .fixed(.milliseconds(ms)) }
        case 2: if let low = parts[0], let high = parts[1], 0 <= low, low <= high { return .range(.milliseconds(low) ... .milliseconds(high)) }
        default: break
        }
        throw ValidationError("--latency-ms must be N or MIN-MAX milliseconds (got '\(text)')")
    }
}
