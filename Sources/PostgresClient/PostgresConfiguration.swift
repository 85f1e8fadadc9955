import CLibPQ
import Foundation

/// How to open a connection: a libpq connection string plus the session settings applied right
/// after connecting.
public struct PostgresConfiguration: Sendable {
    /// A libpq conninfo string (`host=... dbname=...`) or URI
    /// (`postgresql://user@host:5432/db?...`).
    public var connectionString: String
    /// Set as the session's `application_name` (shown in `pg_stat_activity`).
    public var applicationName: String?
    /// The session's `statement_timeout`: the server cancels any statement that runs longer
    /// (SQLSTATE 57014).
    public var statementTimeout: Duration?
    /// Seconds libpq may spend connecting, used when `connectionString` has no `connect_timeout` of
    /// its own. libpq's own default is to wait forever, which would let a dead database hang every
    /// caller.
    public var defaultConnectTimeout: Int

    public init(
        connectionString: String, applicationName: String? = nil, statementTimeout: Duration? = nil,
        defaultConnectTimeout: Int = 5
    ) {
        self.connectionString = connectionString
        self.applicationName = applicationName
        self.statementTimeout = statementTimeout
        self.defaultConnectTimeout = defaultConnectTimeout
    }

    /// Settings added to the connection string when it has none of its own. libpq's defaults wait
    /// forever to connect and leave a dead connection to the kernel, which notices only after
    /// about 15 minutes of retransmissions (or 2 hours of silence): long enough for a failover or
    /// a vanished host to hang every caller. With these, an unanswered connect gives up after
    /// `defaultConnectTimeout` seconds, data the server does not acknowledge for 30 s closes the
    /// connection, and a silent one is probed after 30 s idle, 3 times 10 s apart. A slow
    /// statement on a live server is not affected: its server's kernel acknowledges the data and
    /// the probes.
    public var defaultSettings: [(keyword: String, value: String)] {
        [
            ("connect_timeout", String(defaultConnectTimeout)),
            ("keepalives_idle", "30"), ("keepalives_interval", "10"), ("keepalives_count", "3"),
            ("tcp_user_timeout", "30000"),
        ]
    }

    /// The string given to `PQconnectdb`: `connectionString` with each of `defaultSettings` it does
    /// not set added.
    public var effectiveConnectionString: String {
        // libpq parses both forms; asking it avoids being fooled by e.g.
        // `application_name=connect_timeout`.
        guard let given = Self.options(of: connectionString) else {
            // Unparsable: PQconnectdb will report the real error.
            return connectionString
        }
        let missing = defaultSettings.filter { given[$0.keyword] == nil }
        guard !missing.isEmpty else { return connectionString }
        let isURI =
            connectionString.hasPrefix("postgresql://") || connectionString.hasPrefix("postgres://")
        if isURI {
            let settings = missing.map { "\($0.keyword)=\($0.value)" }.joined(separator: "&")
            guard connectionString.contains("?") else { return connectionString + "?" + settings }
            let endsWithSeparator =
                connectionString.hasSuffix("?") || connectionString.hasSuffix("&")
            return connectionString + (endsWithSeparator ? "" : "&") + settings
        }
        let settings = missing.map { "\($0.keyword)=\($0.value)" }.joined(separator: " ")
        let trimmed = connectionString.drop { $0 == " " }
        return trimmed.isEmpty ? settings : connectionString + " " + settings
    }

    /// The password a conninfo string or URI carries, if any (`nil` also when libpq cannot parse it).
    public static func password(in conninfo: String) -> String? {
        guard let password = options(of: conninfo)?["password"], !password.isEmpty else { return nil }
        return password
    }

    /// The options a conninfo string or URI sets, as libpq parses it; `nil` when it cannot.
    private static func options(of conninfo: String) -> [String: String]? {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(conninfo, &errorMessage) else {
            if let errorMessage { PQfreemem(errorMessage) }
            return nil
        }
        defer { PQconninfoFree(options) }
        var values: [String: String] = [:]
        var option = options
        while let keyword = option.pointee.keyword {
            if let value = option.pointee.val { values[String(cString: keyword)] = String(cString: value) }
            option += 1
        }
        return values
    }

    /// `text` with the connection string's password, and anything shaped like a
    /// password in a conninfo or URI, replaced by `***`: for libpq's messages,
    /// which may quote the string they could not parse.
    public func scrub(_ text: String) -> String {
        var scrubbed = text
        if let password = Self.password(in: connectionString) {
            scrubbed = scrubbed.replacingOccurrences(of: password, with: "***")
            if let encoded = password.addingPercentEncoding(withAllowedCharacters: .alphanumerics), encoded != password {
                scrubbed = scrubbed.replacingOccurrences(of: encoded, with: "***")
            }
        }
        // password=secret (conninfo, or a URI query) and user:secret@ (a URI's userinfo).
        scrubbed = scrubbed.replacingOccurrences(of: #"(password\s*=\s*)('[^']*'|[^\s&]+)"#, with: "$1***",
                                                 options: [.regularExpression, .caseInsensitive])
        scrubbed = scrubbed.replacingOccurrences(of: #"(://[^:/@\s]*:)[^@\s]*@"#, with: "$1***@", options: .regularExpression)
        return scrubbed
    }

    /// `statementTimeout` in whole milliseconds (rounded up, so a tiny timeout is not 0 = "no
    /// timeout").
    var statementTimeoutMilliseconds: Int64? {
        guard let statementTimeout else { return nil }
        let (seconds, attoseconds) = statementTimeout.components
        let perMillisecond: Int64 = 1_000_000_000_000_000
        return max(0, seconds * 1000 + (attoseconds + perMillisecond - 1) / perMillisecond)
    }
}

/// Printed or dumped, a configuration never shows its password.
extension PostgresConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public var description: String {
        "PostgresConfiguration(\(scrub(connectionString)), application_name: \(applicationName ?? "-"))"
    }

    public var debugDescription: String { description }

    public var customMirror: Mirror {
        Mirror(self, children: ["connectionString": scrub(connectionString), "applicationName": applicationName as Any,
                                "statementTimeout": statementTimeout as Any, "defaultConnectTimeout": defaultConnectTimeout])
    }
}
