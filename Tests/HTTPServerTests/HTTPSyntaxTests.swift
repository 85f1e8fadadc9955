import HTTPServer
import Testing

@Suite struct HTTPSyntaxTests {
    @Test(arguments: [
        ("token", "token"), (" \ttoken\t ", "token"), ("a b", "a b"), ("  ", ""), ("", ""),
        ("\u{00A0}x", "\u{00A0}x"),  // only SP and HTAB are HTTP whitespace
    ])
    func trimsOptionalWhitespace(_ text: String, _ trimmed: String) {
        #expect(text.trimmingOWS() == trimmed)
        #expect(text[...].trimmingOWS() == trimmed)
    }
}
