extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's OWS, RFC 9110 §5.6.3).
    public func trimmingOWS() -> String {
        let isOWS: (Unicode.Scalar) -> Bool = { $0 == " " || $0 == "\t" }
        return String(String.UnicodeScalarView(unicodeScalars.drop(while: isOWS).reversed().drop(while: isOWS).reversed()))
    }
}

extension String {
    /// Whether a comma-separated header value lists the token (case-insensitive).
    func hasToken(_ token: String) -> Bool {
        split(separator: ",").contains { $0.trimmingOWS().caseInsensitiveEquals(token) }
    }
}
