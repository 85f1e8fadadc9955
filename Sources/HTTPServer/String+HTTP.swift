extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's OWS, RFC 9110 §5.6.3).
    /// Works on UTF-8 code units: space and tab are ASCII, so the bounds it finds
    /// are scalar boundaries (this runs on every request's hot path).
    public func trimmingOWS() -> String {
        let utf8 = self.utf8
        var start: Index?  // the first byte that is not OWS
        var end = utf8.startIndex  // just after the last one
        var index = utf8.startIndex
        while index < utf8.endIndex {
            let next = utf8.index(after: index)
            if utf8[index] != 0x20 && utf8[index] != 0x09 {
                if start == nil { start = index }
                end = next
            }
            index = next
        }
        guard let start else { return "" }
        return String(self[start..<end])
    }
}

extension String {
    /// Whether a comma-separated header value lists the token (case-insensitive).
    func hasToken(_ token: String) -> Bool {
        split(separator: ",").contains { $0.trimmingOWS().caseInsensitiveEquals(token) }
    }
}
