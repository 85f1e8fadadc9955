import HTTPServer
import Testing

@Suite struct HTTPSyntaxTests {
    @Test(arguments: [
        ("token", "token"), (" \ttoken\t ", "token"), ("a b", "a b"), ("  ", ""), ("", ""),
        ("\u{00A0}x", "\u{00A0}x"),  // only SP and HTAB are HTTP whitespace
        (" \u{00E9} x\u{1F600}\t", "\u{00E9} x\u{1F600}"),  // multi-byte scalars at the edges stay whole
    ])
    func trimsOptionalWhitespace(_ text: String, _ trimmed: String) {
        #expect(text.trimmingOWS() == trimmed)
        #expect(text[...].trimmingOWS() == trimmed)
        #expect("a,\(text),b".split(separator: ",", omittingEmptySubsequences: false)[1].trimmingOWS() == trimmed)
    }

    /// Field names compare case-insensitively in ASCII only (RFC 9110 §5.1),
    /// byte by byte: a byte 0x20 apart from another is the same only for letters.
    @Test(arguments: [
        ("Content-Length", "content-length", true), ("HOST", "host", true), ("X-Request-ID", "x-request-id", true),
        ("Host", "Hosts", false), ("Hosts", "Host", false), ("", "", true), ("a", "", false),
        ("[a]", "{a}", false),  // 0x5B/0x7B and 0x5D/0x7D: 0x20 apart, not letters
        ("a@", "a`", false),  // 0x40/0x60
        ("X-\u{00C9}", "x-\u{00E9}", false),  // not ASCII: not folded
        ("X-\u{00E9}", "x-\u{00E9}", true),
    ])
    func headerNamesCompareInASCIICaseOnly(_ stored: String, _ asked: String, _ same: Bool) {
        var headers = HTTPHeaders()
        headers.add(stored, "v")
        #expect((headers[asked] != nil) == same)
        #expect(headers.values(asked).count == (same ? 1 : 0))
    }
}
