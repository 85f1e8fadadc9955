extension HTTPResponse {
    /// The bytes on the wire. The handler's headers come first, minus those
    /// the server owns (framing and connection management); then
    /// `Content-Length` (exactly one), `Date` unless the handler set one, and
    /// `Connection`. A HEAD response keeps the length but drops the body;
    /// 1xx, 204 and 304 carry neither.
    func serialized(isHEAD: Bool, connection: String?, date: String = HTTPDate.now()) -> [UInt8] {
        let hasBody = !(100..<200).contains(status) && status != 204 && status != 304
        var bytes: [UInt8] = []
        bytes.reserveCapacity(256 + (hasBody && !isHEAD ? body.count : 0))
        func line(_ name: String, _ value: String) {
            bytes.append(contentsOf: name.utf8)
            bytes.append(contentsOf: ": ".utf8)
            bytes.append(contentsOf: value.utf8)
            bytes.append(contentsOf: Self.crlf)
        }
        bytes.append(contentsOf: "HTTP/1.1 \(status) \(HTTPStatus.reasonPhrase(status))".utf8)
        bytes.append(contentsOf: Self.crlf)
        for (name, value) in headers where !Self.serverOwned.contains(where: name.caseInsensitiveEquals) {
            // A CR or LF in a value would split the response: drop the field.
            guard !name.utf8.contains(where: { $0 == HTTPSyntax.cr || $0 == HTTPSyntax.lf }),
                  !value.utf8.contains(where: { $0 == HTTPSyntax.cr || $0 == HTTPSyntax.lf }) else { continue }
            line(name, value)
        }
        if hasBody {
            // A HEAD handler may announce the length of the body it omits.
            let declared = isHEAD && body.isEmpty ? headers["Content-Length"].flatMap { Int($0.trimmingOWS()) } : nil
            line("Content-Length", String(declared ?? body.count))
        }
        if headers["Date"] == nil { line("Date", date) }
        if let connection { line("Connection", connection) }
        bytes.append(contentsOf: Self.crlf)
        if hasBody && !isHEAD { bytes.append(contentsOf: body) }
        return bytes
    }

    private static let crlf: [UInt8] = [HTTPSyntax.cr, HTTPSyntax.lf]
    private static let serverOwned = ["Content-Length", "Transfer-Encoding", "Connection"]

    /// Whether the handler asked for the connection to close.
    var requestsClose: Bool {
        headers.values("Connection").contains { $0.hasToken("close") }
    }
}
