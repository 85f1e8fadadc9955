import Foundation

/// Where the REST API lives: a region's domain, or an explicit base URL
/// (the sandbox, a proxy). Holds no secrets, so it may be logged as is.
public struct TencentEndpoint: Sendable, Equatable, CustomStringConvertible {
    /// Scheme, host, optional port and path prefix; never a trailing slash.
    public let baseURL: URL
    /// The region name when parsed from one.
    public let region: String?

    /// Region names accepted by `TENCENT_ENDPOINT`, with their domains.
    public static let regions: [String: String] = [
        "china": "console.tim.qq.com",
        "singapore": "adminapisgp.im.qcloud.com",
        "seoul": "adminapikr.im.qcloud.com",
        "tokyo": "adminapijpn.im.qcloud.com",
        "frankfurt": "adminapiger.im.qcloud.com",
        "mumbai": "adminapiind.im.qcloud.com",
        "silicon-valley": "adminapiusa.im.qcloud.com",
        "jakarta": "adminapiidn.im.qcloud.com",
    ]

    /// Accepts a region name (case-insensitive) or `http(s)://host[:port][/prefix]`.
    public init(parsing text: String) throws(TencentEndpointError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let domain = Self.regions[trimmed.lowercased()] {
            baseURL = URL(string: "https://\(domain)")!
            region = trimmed.lowercased()
            return
        }
        guard trimmed.contains("://") else { throw .unknownRegion(trimmed) }
        guard let components = URLComponents(string: trimmed),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = components.percentEncodedHost, !host.isEmpty,
              components.user == nil, components.password == nil,
              components.query == nil, components.fragment == nil
        else { throw .invalidURL(trimmed) }
        var clean = URLComponents()
        clean.scheme = scheme
        clean.percentEncodedHost = host
        clean.port = components.port
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        clean.percentEncodedPath = path
        guard let url = clean.url else { throw .invalidURL(trimmed) }
        baseURL = url
        region = nil
    }

    /// `{base}/v4/{service}/{command}?sdkappid=…&identifier=…&usersig=…&random=…&contenttype=json`,
    /// with a fresh random `UInt32` unless one is given.
    public func url(
        service: String, command: String, sdkAppID: Int, identifier: String, userSig: String,
        random: UInt32 = .random(in: .min ... .max)
    ) -> URL {
        let path = "/v4/\(Self.percentEncode(service))/\(Self.percentEncode(command))"
        let query = [
            ("sdkappid", String(sdkAppID)),
            ("identifier", identifier),
            ("usersig", userSig),
            ("random", String(random)),
            ("contenttype", "json"),
        ].map { "\($0)=\(Self.percentEncode($1))" }.joined(separator: "&")
        return URL(string: baseURL.absoluteString + path + "?" + query)!
    }

    public var description: String { baseURL.absoluteString }

    /// The URL with the `usersig` value replaced, safe for logs and error messages.
    public static func redacted(_ url: URL) -> String {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false),
              let query = components.percentEncodedQuery
        else { return url.absoluteString }
        components.percentEncodedQuery = query.split(separator: "&", omittingEmptySubsequences: false).map { pair in
            pair.hasPrefix("usersig=") ? "usersig=REDACTED" : String(pair)
        }.joined(separator: "&")
        return components.string ?? "(unprintable URL)"
    }

    /// RFC 3986 unreserved characters plus `*` (a legal query sub-delimiter that
    /// Tencent's UserSig alphabet uses) stay literal; everything else is encoded,
    /// `+`, `&`, `=` and spaces included.
    static func percentEncode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "*"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }
}
