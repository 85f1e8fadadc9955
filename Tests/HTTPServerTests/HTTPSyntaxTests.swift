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
}
