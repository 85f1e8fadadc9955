/// Why `TENCENT_ENDPOINT` could not be understood.
public enum TencentEndpointError: Error, Equatable, Sendable, CustomStringConvertible {
    case unknownRegion(String)
    case invalidURL(String)

    public var description: String {
        let regions = TencentEndpoint.regions.keys.sorted().joined(separator: ", ")
        switch self {
        case .unknownRegion(let text):
            return "unknown Tencent region \"\(text)\": use one of \(regions), or a base URL such as http://127.0.0.1:9090"
        case .invalidURL(let text):
            return "invalid Tencent endpoint URL \"\(text)\": expected http(s)://host[:port][/prefix] without query, fragment or credentials"
        }
    }
}
