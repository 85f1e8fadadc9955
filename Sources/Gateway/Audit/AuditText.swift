/// Caller-supplied text as an audit row can hold it: control characters (NUL
/// among them, which PostgreSQL's text cannot store) become U+FFFD, and text over
/// its column's bound is cut at a character boundary and ends in "…".
enum AuditText {
    static func storable(_ text: String?, maxBytes: Int) -> String? {
        guard let text else { return nil }
        let clean = text.unicodeScalars.contains(where: isControl)
            ? String(String.UnicodeScalarView(text.unicodeScalars.map { isControl($0) ? "\u{FFFD}" : $0 }))
            : text
        guard clean.utf8.count > maxBytes else { return clean }
        var cut = ""
        for character in clean {
            guard cut.utf8.count + character.utf8.count <= maxBytes - 3 else { break }
            cut.append(character)
        }
        return cut + "…"
    }

    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F..<0xA0).contains(scalar.value)
    }
}
