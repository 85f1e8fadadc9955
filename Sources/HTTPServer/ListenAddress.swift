import Glibc

/// Where to listen, as written in configuration: `host:port`, with the host
/// empty (all IPv4 interfaces), an IPv4 literal, a bracketed IPv6 literal, or
/// a name resolved when the server starts.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// Without brackets; empty means every IPv4 interface.
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `127.0.0.1:8080`, `:0`, `0.0.0.0:80`, `[::1]:8080` or
    /// `localhost:8080`; throws `SocketError.invalidAddress` saying what is wrong.
    public init(parsing text: String) throws {
        func invalid(_ reason: String) -> SocketError {
            .invalidAddress("\"\(text)\": \(reason) (expected host:port, e.g. 127.0.0.1:8080, :8080 or [::1]:8080)")
        }
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw invalid("missing ']'") }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw invalid("missing ':port' after ']'") }
            portPart = rest.dropFirst()
            guard !hostPart.isEmpty, SocketAddress(numericHost: String(hostPart), port: 0)?.family == AF_INET6 else {
                throw invalid("not an IPv6 address inside brackets")
            }
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw invalid("missing ':port'") }
            hostPart = text[..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { throw invalid("IPv6 addresses need brackets") }
            if !hostPart.isEmpty, SocketAddress(numericHost: String(hostPart), port: 0) == nil {
                try Self.validateHostName(hostPart, invalid)
            }
        }
        guard !portPart.isEmpty, portPart.count <= 5, portPart.allSatisfy({ $0.isASCII && $0.isNumber }),
              let port = UInt16(portPart) else {
            throw invalid("port must be a number from 0 to 65535")
        }
        self.init(host: String(hostPart), port: port)
    }

    private static func validateHostName(_ name: Substring, _ invalid: (String) -> SocketError) throws {
        let allowed = name.utf8.allSatisfy { byte in
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z")) || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z"))
                || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-") || byte == UInt8(ascii: ".")
        }
        // Digits and dots only would be a malformed IPv4 literal, not a name.
        let looksNumeric = name.allSatisfy { $0 == "." || ($0.isASCII && $0.isNumber) }
        guard allowed, !looksNumeric, !name.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) else {
            throw invalid("'\(name)' is neither an IP address nor a host name")
        }
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// The socket address to bind. Names are resolved here (IPv4 preferred),
    /// numeric hosts never touch the resolver.
    public func resolve() throws -> SocketAddress {
        if host.isEmpty {
            var any = sockaddr_in()
            any.sin_family = sa_family_t(AF_INET)
            any.sin_port = port.bigEndian
            any.sin_addr.s_addr = INADDR_ANY
            return .ipv4(any)
        }
        if let numeric = SocketAddress(numericHost: host, port: port) { return numeric }

        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, nil, &hints, &list)
        guard status == 0, let list else {
            throw SocketError.invalidAddress("cannot resolve '\(host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        var found: [SocketAddress] = []
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let current = entry {
            if let raw = current.pointee.ai_addr {
                switch current.pointee.ai_family {
                case AF_INET:
                    var address = UnsafeRawPointer(raw).loadUnaligned(as: sockaddr_in.self)
                    address.sin_port = port.bigEndian
                    found.append(.ipv4(address))
                case AF_INET6:
                    var address = UnsafeRawPointer(raw).loadUnaligned(as: sockaddr_in6.self)
                    address.sin6_port = port.bigEndian
                    found.append(.ipv6(address))
                default:
                    break
                }
            }
            entry = current.pointee.ai_next
        }
        guard let address = found.first(where: { $0.family == AF_INET }) ?? found.first else {
            throw SocketError.invalidAddress("'\(host)' has no IPv4 or IPv6 address")
        }
        return address
    }
}
