import Foundation
import Logging
import PostgresClient
import TencentChat

/// Everything a command needs, read from the environment (CONTRACT.md's table).
/// Flags of the same meaning override it before validation.
public struct GatewayConfiguration: Sendable {
    public var databaseURL: String
    public var listen: String
    public var sdkAppID: Int
    public var secretKey: String
    public var adminIdentifier: String
    public var endpoint: String
    public var importRate: Int
    public var batchRate: Int
    public var idStrategy: IDStrategy
    public var waitMilliseconds: Int
    /// Backlog quotas (429 beyond them): pending imports per caller, and in all.
    public var maxPendingPerCaller: Int
    public var maxPending: Int
    /// Undocumented answers (or FailAccounts without a reason) an account may get before it ends `failed`.
    public var maxUnexplainedAttempts: Int
    /// Seconds each admin UserSig is valid; a new one is made at half that age.
    public var userSigValidity: Int
    /// The file the secret key came from, re-read on SIGHUP and when it changes.
    public var secretKeyFile: String?
    /// A PEM file of CA certificates to verify Tencent's (or a re-signing proxy's) certificate against; nil: the system's.
    public var caFile: String?
    /// The HTTP client that calls Tencent; nil: libcurl where it can be loaded, else URLSession.
    public var upstreamTransport: UpstreamTransport?
    public var logLevel: Logger.Level
    /// How long a successful authentication is remembered by a replica; a
    /// revoked token stops working within this time. Not an environment
    /// variable: tests set it to nil to see revocations at once.
    public var authCacheDuration: Duration? = .seconds(5)

    public struct Error: Swift.Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// Reads and validates the configuration; every problem is reported at once.
    /// `requireTencent` is false for commands that never call Tencent (migrate, caller);
    /// `requireDatabase` for those that never touch the database (usersig).
    public init(environment env: [String: String], requireTencent: Bool = true, requireDatabase: Bool = true) throws(Error) {
        var problems: [String] = []
        func value(_ name: String) -> String? {
            guard let raw = env[name]?.trimmingCharacters(in: .whitespaces), !raw.isEmpty else { return nil }
            return raw
        }
        func integer(_ name: String, default fallback: Int, range: ClosedRange<Int>) -> Int {
            guard let raw = value(name) else { return fallback }
            guard let number = Int(raw), range.contains(number) else {
                problems.append("\(name) must be an integer in \(range.lowerBound)...\(range.upperBound) (got '\(raw)')")
                return fallback
            }
            return number
        }

        databaseURL = value("DATABASE_URL") ?? ""
        if let path = value("DATABASE_URL_FILE") {
            // The password stays out of the environment (and so out of /proc/PID/environ of children).
            if !databaseURL.isEmpty {
                problems.append("set DATABASE_URL or DATABASE_URL_FILE, not both")
            } else {
                do { databaseURL = try SecretFile.read(path, variable: "DATABASE_URL_FILE") } catch { problems.append(error.description) }
            }
        }
        if databaseURL.isEmpty && requireDatabase {
            problems.append("DATABASE_URL (or DATABASE_URL_FILE) is required (a libpq connection string or URI)")
        }
        listen = value("GATEWAY_LISTEN") ?? "127.0.0.1:8080"

        sdkAppID = 0
        if let raw = value("TENCENT_SDKAPPID") {
            if let id = Int(raw), id > 0, id <= Int(UInt32.max) { sdkAppID = id } else {
                problems.append("TENCENT_SDKAPPID must be a positive integer (got '\(raw)')")
            }
        } else if requireTencent {
            problems.append("TENCENT_SDKAPPID is required")
        }

        secretKey = ""
        secretKeyFile = value("TENCENT_SECRET_KEY_FILE")
        if let path = secretKeyFile {
            do { secretKey = try SecretFile.read(path) } catch { problems.append(error.description) }
        } else if let key = value("TENCENT_SECRET_KEY") {
            secretKey = key
        } else if requireTencent {
            problems.append("TENCENT_SECRET_KEY_FILE (preferred) or TENCENT_SECRET_KEY is required")
        }

        caFile = value("TENCENT_CA_FILE")
        upstreamTransport = nil
        if let raw = value("TENCENT_TRANSPORT") {
            if let transport = UpstreamTransport(rawValue: raw) { upstreamTransport = transport } else {
                problems.append("TENCENT_TRANSPORT must be one of \(UpstreamTransport.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(raw)')")
            }
        }
        adminIdentifier = value("TENCENT_ADMIN") ?? "administrator"
        if adminIdentifier.utf8.count > 32 { problems.append("TENCENT_ADMIN must be at most 32 bytes") }
        endpoint = value("TENCENT_ENDPOINT") ?? "china"
        importRate = integer("TENCENT_IMPORT_RATE", default: 200, range: 1...100_000)
        batchRate = integer("TENCENT_BATCH_RATE", default: 100, range: 1...100_000)

        idStrategy = .verbatim
        if let raw = value("GATEWAY_ID_STRATEGY") {
            if let strategy = IDStrategy(rawValue: raw) { idStrategy = strategy } else {
                problems.append("GATEWAY_ID_STRATEGY must be one of \(IDStrategy.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(raw)')")
            }
        }
        waitMilliseconds = integer("GATEWAY_WAIT_MS", default: 3000, range: 0...60_000)
        maxPendingPerCaller = integer("GATEWAY_MAX_PENDING_PER_CALLER", default: 100_000, range: 1...100_000_000)
        maxPending = integer("GATEWAY_MAX_PENDING", default: 1_000_000, range: 1...100_000_000)
        maxUnexplainedAttempts = integer("GATEWAY_MAX_UNEXPLAINED_ATTEMPTS", default: 5, range: 1...1_000)
        // A day by default: a signature leaked through a proxy's log is of use for hours, not half a year.
        userSigValidity = integer("TENCENT_USERSIG_VALIDITY", default: 86_400, range: 300...15_552_000)

        logLevel = .info
        if let raw = value("LOG_LEVEL") {
            if let level = Logger.Level(rawValue: raw.lowercased()) { logLevel = level } else {
                problems.append("LOG_LEVEL must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", ")) (got '\(raw)')")
            }
        }

        if !problems.isEmpty { throw Error(description: "invalid configuration:\n  - " + problems.joined(separator: "\n  - ")) }
    }
}

/// How the gateway calls Tencent (`TENCENT_TRANSPORT`): libcurl's easy interface
/// (`CurlTransport`), or URLSession (`URLSessionTransport`), which drives the
/// same libcurl through more threads and is kept as the fallback.
public enum UpstreamTransport: String, CaseIterable, Sendable {
    case curl, urlsession

    /// The choice when `TENCENT_TRANSPORT` is not set: libcurl where it can be
    /// loaded, URLSession otherwise.
    public static var preferred: UpstreamTransport { CurlTransport.isAvailable ? .curl : .urlsession }

    /// A transport of this kind, trusting `caFile` (nil: the system's trust store).
    /// Throws `CurlTransport.Unavailable`, or `URLSessionTransport.CAFileError` for
    /// a file that cannot be used.
    public func make(caFile: String? = nil) throws -> any TencentTransport {
        switch self {
        case .curl: try CurlTransport(caFile: caFile)
        case .urlsession: try URLSessionTransport(caFile: caFile)
        }
    }
}

/// Printed, dumped or logged by mistake, a configuration shows neither the
/// secret key nor the database password.
extension GatewayConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        let fields = customMirror.children.map { "\($0.label ?? "?"): \($0.value)" }
        return "GatewayConfiguration(" + fields.joined(separator: ", ") + ")"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        let database = PostgresConfiguration(connectionString: databaseURL)
        return Mirror(self, children: [
            "databaseURL": database.scrub(databaseURL), "listen": listen, "sdkAppID": sdkAppID,
            "secretKey": secretKey.isEmpty ? "" : "<redacted>", "secretKeyFile": secretKeyFile ?? "-",
            "adminIdentifier": adminIdentifier, "endpoint": endpoint, "importRate": importRate, "batchRate": batchRate,
            "idStrategy": idStrategy.rawValue, "waitMilliseconds": waitMilliseconds,
            "maxPendingPerCaller": maxPendingPerCaller, "maxPending": maxPending,
            "maxUnexplainedAttempts": maxUnexplainedAttempts, "userSigValidity": userSigValidity,
            "caFile": caFile ?? "-", "upstreamTransport": upstreamTransport?.rawValue ?? "-", "logLevel": logLevel.rawValue,
        ])
    }
}
