/// Caller-supplied text as an audit row can hold it: control characters (NUL
/// among them, which PostgreSQL's text cannot store) become U+FFFD, and text over
/// its column's bound is cut at a character boundary and ends in "…".
enum AuditText {
    static func storable(_ text: String?, maxBytes: Int) -> String? {
        guard let text else { return nil }
        // Printable ASCII, the common case, needs no look at Unicode properties.
        if text.utf8.count <= maxBytes, text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return text }
        let clean = text.unicodeScalars.contains(where: \.isControlCharacter)
            ? String(String.UnicodeScalarView(text.unicodeScalars.map { $0.isControlCharacter ? "\u{FFFD}" : $0 }))
            : text
        guard clean.utf8.count > maxBytes else { return clean }
        var cut = ""
        for character in clean {
            guard cut.utf8.count + character.utf8.count <= maxBytes - 3 else { break }
            cut.append(character)
        }
        return cut + "…"
    }
}
