extension HTTPServer {
    /// The default `errorResponder`: an RFC 9457 problem document,
    /// `{"type":"about:blank","title":<reason>,"status":N,"detail":...}`.
    @Sendable public static func problemResponse(status: Int, detail: String) -> HTTPResponse {
        let json = #"{"type":"about:blank","title":\#(jsonString(HTTPStatus.reasonPhrase(status))),"#
            + #""status":\#(status),"detail":\#(jsonString(detail))}"#
        return HTTPResponse(status: status, headers: ["Content-Type": "application/problem+json"], body: Array(json.utf8))
    }

    /// A JSON string literal (RFC 8259 §7 escaping).
    static func jsonString(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
