extension HTTPRequestParser {
    struct Head {
        var request: HTTPRequest
        var framing: Framing
        var expectsContinue: Bool
    }

    /// Parses a complete head (lines without their CRLF): request line,
    /// header fields, then the body framing they announce.
    static func parseHead(
        requestLine: ArraySlice<UInt8>, headerLines: ArraySlice<ArraySlice<UInt8>>, limits: Limits
    ) throws(HTTPParseError) -> Head {
        let parts = requestLine.split(separator: HTTPSyntax.space, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw .badRequest("malformed request line") }
        let (methodBytes, targetBytes, versionBytes) = (parts[0], parts[1], parts[2])
        guard HTTPSyntax.isToken(methodBytes) else { throw .badRequest("invalid method") }
        let version = try parseVersion(versionBytes)

        guard headerLines.count <= limits.maxHeaderCount else {
            throw HTTPParseError(status: 431, detail: "more than \(limits.maxHeaderCount) header fields")
        }
        var headers = HTTPHeaders()
        for line in headerLines {
            let (name, value) = try parseField(line)
            headers.add(name, value)
        }

        // From here on a refusal carries the head as read, for the caller's request ID.
        let method = Self.commonMethods.first { $0.utf8.elementsEqual(methodBytes) } ?? HTTPSyntax.string(methodBytes)
        do {
            return try parseHead(method: method, targetBytes: targetBytes, version: version, headers: headers, limits: limits)
        } catch {
            var error = error
            let raw = HTTPSyntax.string(targetBytes)
            error.head = HTTPRequest(method: method, target: raw, path: raw, query: [], version: version, headers: headers)
            throw error
        }
    }

    private static func parseHead(
        method: String, targetBytes: ArraySlice<UInt8>, version: String, headers: HTTPHeaders, limits: Limits
    ) throws(HTTPParseError) -> Head {
        // asterisk-form, for a server-wide OPTIONS (RFC 9112 §3.2.4); every other target is origin-form.
        let asterisk = method == "OPTIONS" && targetBytes.elementsEqual("*".utf8)
        let target = asterisk ? (raw: "*", path: "*", query: []) : try parseTarget(targetBytes)
        var request = HTTPRequest(
            method: method, target: target.raw, path: target.path, query: target.query, version: version, headers: headers)

        let hosts = headers.values("Host")
        if hosts.count > 1 { throw .badRequest("more than one Host header") }
        if version == "HTTP/1.1" && hosts.isEmpty { throw .badRequest("missing Host header") }
        if let host = hosts.first, !isValidHost(host) { throw .badRequest("invalid Host header") }

        let framing = try parseFraming(headers, version: version, limits: limits)
        if framing == .length(0) { request.body = [] }
        // HTTP/1.0 clients cannot expect 100 Continue (RFC 9110 §10.1.1).
        let expectsContinue = version == "HTTP/1.1"
            && headers["Expect"].map { $0.trimmingOWS().lowercased() == "100-continue" } == true
            && framing != .none && framing != .length(0)
        return Head(request: request, framing: framing, expectsContinue: expectsContinue)
    }

    /// Methods whose text is taken as is rather than decoded from the bytes (every request has one).
    private static let commonMethods = ["GET", "POST", "HEAD", "PUT", "DELETE", "OPTIONS", "PATCH"]

    private static func parseVersion(_ bytes: ArraySlice<UInt8>) throws(HTTPParseError) -> String {
        for version in ["HTTP/1.1", "HTTP/1.0"] where version.utf8.elementsEqual(bytes) { return version }
        let text = HTTPSyntax.string(bytes)
        let digit: (UInt8) -> Bool = { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
        let shape = Array(bytes)
        if shape.count == 8, text.hasPrefix("HTTP/"), digit(shape[5]), shape[6] == UInt8(ascii: "."), digit(shape[7]) {
            throw HTTPParseError(status: 505, detail: "\(text) is not supported; use HTTP/1.1")
        }
        throw .badRequest("invalid HTTP version")
    }

    /// `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2.2): an IP literal in
    /// brackets or a name of unreserved, percent-encoded and sub-delim characters,
    /// but no userinfo, path or list of hosts (so no '@', '/' or ','), and not empty.
    /// Byte by byte: it runs on every request.
    static func isValidHost(_ value: String) -> Bool {
        let bytes = value.utf8
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = bytes[bytes.index(after: bytes.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy(isIPLiteralByte) else { return false }
            let port = bytes[bytes.index(after: close)...]
            return port.isEmpty || isValidPort(port)
        }
        var name = bytes[...]
        if let colon = bytes.lastIndex(of: UInt8(ascii: ":")) {
            guard isValidPort(bytes[colon...]) else { return false }
            name = bytes[..<colon]
        }
        return !name.isEmpty && name.allSatisfy(isRegNameByte)
    }

    /// `":" *DIGIT`, at most five digits.
    private static func isValidPort(_ text: Substring.UTF8View) -> Bool {
        text.first == UInt8(ascii: ":") && text.count <= 6
            && text.dropFirst().allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    /// Hex digits, ':' and '.' (IPv6, and IPv4 at its end).
    private static func isIPLiteralByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "f"), UInt8(ascii: "A")...UInt8(ascii: "F"),
             UInt8(ascii: ":"), UInt8(ascii: "."): true
        default: false
        }
    }

    /// unreserved, pct-encoded (its '%') and sub-delims (RFC 3986 §3.2.2).
    private static func isRegNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "%"),
             UInt8(ascii: "!"), UInt8(ascii: "$"), UInt8(ascii: "&"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: ";"), UInt8(ascii: "="): true
        default: false
        }
    }

    /// `field-name ":" OWS field-value OWS`; obs-fold and whitespace before
    /// the colon are refused (RFC 9112 §5).
    private static func parseField(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> (String, String) {
        guard let first = line.first, !HTTPSyntax.isWhitespace(first) else {
            throw .badRequest("obsolete line folding is not allowed")
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else { throw .badRequest("header field without ':'") }
        let name = line[..<colon]
        guard HTTPSyntax.isToken(name) else { throw .badRequest("invalid header field name") }
        let value = HTTPSyntax.trimmingWhitespace(line[line.index(after: colon)...])
        guard value.allSatisfy(HTTPSyntax.isFieldValueByte) else {
            throw .badRequest("invalid character in header field '\(HTTPSyntax.string(name))'")
        }
        return (HTTPSyntax.string(name), HTTPSyntax.string(value))
    }

    /// The target as path, decoded path and query: origin-form (`/path[?query]`) or the
    /// http(s) absolute-form reduced to it; visible ASCII, no fragment.
    private static func parseTarget(
        _ target: ArraySlice<UInt8>
    ) throws(HTTPParseError) -> (raw: String, path: String, query: [(name: String, value: String)]) {
        let bytes = try originForm(of: target)
        guard bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "#") }) else {
            throw .badRequest("invalid character in request target")
        }
        let questionMark = bytes.firstIndex(of: UInt8(ascii: "?"))
        let pathBytes = bytes[..<(questionMark ?? bytes.endIndex)]
        guard let path = PercentDecoding.decode(pathBytes), !path.utf8.contains(0) else {
            throw .badRequest("invalid percent-encoding in path")
        }
        var query: [(name: String, value: String)] = []
        if let questionMark {
            for item in bytes[(questionMark + 1)...].split(separator: UInt8(ascii: "&")) {
                let equals = item.firstIndex(of: UInt8(ascii: "="))
                let nameBytes = item[..<(equals ?? item.endIndex)]
                let valueBytes = equals.map { item[($0 + 1)...] } ?? []
                guard let name = PercentDecoding.decode(nameBytes, plusAsSpace: true),
                      let value = PercentDecoding.decode(valueBytes, plusAsSpace: true) else {
                    throw .badRequest("invalid percent-encoding in query")
                }
                query.append((name, value))
            }
        }
        return (HTTPSyntax.string(bytes), path, query)
    }

    /// The origin-form (`/path?query`) of a target. A server MUST accept the
    /// absolute-form too (RFC 9112 §3.2.2: `http://host:port/path?query`); its
    /// path and query are what counts, the authority only has to be a valid
    /// host (the Host header is still required and checked).
    private static func originForm(of target: ArraySlice<UInt8>) throws(HTTPParseError) -> ArraySlice<UInt8> {
        if target.first == UInt8(ascii: "/") { return target }
        let lowered = target.prefix(8).map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }  // the scheme is case-insensitive
        let schemeLength = lowered.starts(with: "https://".utf8) ? 8 : lowered.starts(with: "http://".utf8) ? 7 : 0
        guard schemeLength > 0 else { throw .badRequest("request target must be an absolute path or an http(s) URI") }
        let afterScheme = target.dropFirst(schemeLength)
        let authorityEnd = afterScheme.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? afterScheme.endIndex
        guard isValidHost(HTTPSyntax.string(afterScheme[..<authorityEnd])) else {
            throw .badRequest("invalid authority in the request target")
        }
        let rest = afterScheme[authorityEnd...]
        return rest.first == UInt8(ascii: "/") ? rest : ArraySlice(Array("/".utf8) + rest)
    }

    /// How the body is delimited (RFC 9112 §6.3). Transfer-Encoding wins
    /// over nothing: both together are refused as a smuggling attempt.
    private static func parseFraming(_ headers: HTTPHeaders, version: String, limits: Limits) throws(HTTPParseError) -> Framing {
        let transferEncodings = headers.values("Transfer-Encoding")
        let contentLengths = headers.values("Content-Length")
        if !transferEncodings.isEmpty {
            guard contentLengths.isEmpty else { throw .badRequest("both Transfer-Encoding and Content-Length") }
            guard version == "HTTP/1.1" else { throw .badRequest("Transfer-Encoding in an HTTP/1.0 request") }
            let codings = transferEncodings
                .flatMap { $0.split(separator: ",", omittingEmptySubsequences: false) }
                .map { $0.trimmingOWS().lowercased() }
            if codings == ["chunked"] { return .chunked }
            if codings.contains(where: \.isEmpty) { throw .badRequest("empty transfer coding") }
            // Not chunked last: the body's length cannot be known (RFC 9112 §6.3).
            guard codings.last == "chunked" else { throw .badRequest("the final transfer coding is not chunked") }
            if let unsupported = codings.first(where: { $0 != "chunked" }) {
                throw HTTPParseError(status: 501, detail: "transfer coding '\(unsupported)' is not supported")
            }
            throw .badRequest("chunked applied more than once")
        }
        guard !contentLengths.isEmpty else { return .none }
        // A list of identical values ("5, 5") is one value (RFC 9110 §8.6).
        var length: Int?
        for text in contentLengths.flatMap({ $0.split(separator: ",", omittingEmptySubsequences: false) }) {
            let digits = text.trimmingOWS()
            guard !digits.isEmpty, digits.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
                throw .badRequest("invalid Content-Length")
            }
            guard let value = Int(digits) else { throw .badRequest("Content-Length too large to represent") }
            if let length, length != value { throw .badRequest("conflicting Content-Length values") }
            length = value
        }
        let bodyLength = length ?? 0
        guard bodyLength <= limits.maxBodyBytes else {
            throw HTTPParseError(status: 413, detail: "body of \(bodyLength) bytes exceeds \(limits.maxBodyBytes) bytes")
        }
        return .length(bodyLength)
    }
}
