extension HTTPResponse {
    /// The bytes on the wire. The handler's headers come first, minus those
    /// the server owns (framing and connection management); then
    /// `Content-Length` (exactly one), `Date` unless the handler set one, and
    /// `Connection`. A HEAD response keeps the length but drops the body;
    /// 1xx, 204 and 304 carry neither.
    func serialized(isHEAD: Bool, connection: String?, date: String = HTTPDate.now()) -> [UInt8] {
        var head = "HTTP/1.1 \(status) \(HTTPStatus.reasonPhrase(status))\r\n"
        let owned = ["Content-Length", "Transfer-Encoding", "Connection"]
        for (name, value) in headers where !owned.contains(where: name.caseInsensitiveEquals) {
            // A CR or LF in a value would split the response: drop the field.
            guard !name.utf8.contains(where: { $0 == HTTPSyntax.cr || $0 == HTTPSyntax.lf }),
                  !value.utf8.contains(where: { $0 == HTTPSyntax.cr || $0 == HTTPSyntax.lf }) else { continue }
            head += "\(name): \(value)\r\n"
        }
        let hasBody = !(100..<200).contains(status) && status != 204 && status != 304
        if hasBody {
            // A HEAD handler may announce the length of the body it omits.
            let declared = isHEAD && body.isEmpty ? headers["Content-Length"].flatMap { Int($0.trimmingOWS()) } : nil
            head += "Content-Length: \(declared ?? body.count)\r\n"
        }
        if headers["Date"] == nil { head += "Date: \(date)\r\n" }
        if let connection { head += "Connection: \(connection)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if hasBody && !isHEAD { bytes += body }
        return bytes
    }

    /// Whether the handler asked for the connection to close.
    var requestsClose: Bool {
        headers.values("Connection").contains { $0.hasToken("close") }
    }
}
