import Testing

@testable import HTTPServer

/// Parses `text` (given all at once) into requests, or the error status.
private func parse(_ text: String, limits: HTTPRequestParser.Limits = .init()) -> Result<[HTTPRequest], HTTPParseError> {
    var parser = HTTPRequestParser(limits: limits)
    parser.append(Array(text.utf8))
    var requests: [HTTPRequest] = []
    do {
        while let request = try parser.nextRequest() { requests.append(request) }
        return .success(requests)
    } catch {
        return .failure(error)
    }
}

private func single(_ text: String, limits: HTTPRequestParser.Limits = .init()) throws -> HTTPRequest {
    let requests = try parse(text, limits: limits).get()
    try #require(requests.count == 1)
    return requests[0]
}

private func status(_ text: String, limits: HTTPRequestParser.Limits = .init()) -> Int? {
    if case let .failure(error) = parse(text, limits: limits) { return error.status }
    return nil
}

@Suite("HTTPRequestParser")
struct HTTPRequestParserTests {
    @Test func parsesASimpleGET() throws {
        let request = try single("GET /accounts/abc HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\n\r\n")
        #expect(request.method == "GET")
        #expect(request.target == "/accounts/abc")
        #expect(request.path == "/accounts/abc")
        #expect(request.version == "HTTP/1.1")
        #expect(request.headers["host"] == "example.com")
        #expect(request.headers["ACCEPT"] == "*/*")
        #expect(request.body.isEmpty)
        #expect(request.query.isEmpty)
    }

    @Test func parsesAPOSTBodyByContentLength() throws {
        let request = try single("POST /items HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")
        #expect(request.method == "POST")
        #expect(String(decoding: request.body, as: UTF8.self) == "hello world")
    }

    @Test func waitsForTheWholeBody() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nab".utf8))
        #expect(try parser.nextRequest() == nil)
        #expect(parser.isReadingBody)
        parser.append(Array("cde".utf8))
        let request = try #require(try parser.nextRequest())
        #expect(request.body == Array("abcde".utf8))
        #expect(!parser.isReadingBody)
    }

    @Test func decodesPathAndQuery() throws {
        let request = try single("GET /a%20b/c%2Fd?q=a+b&x=%2F%3D&empty=&flag&q=2&caf%C3%A9=%E2%9C%93 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(request.path == "/a b/c/d")
        #expect(request.target == "/a%20b/c%2Fd?q=a+b&x=%2F%3D&empty=&flag&q=2&caf%C3%A9=%E2%9C%93")
        #expect(request.query.map(\.name) == ["q", "x", "empty", "flag", "q", "café"])
        #expect(request.query.map(\.value) == ["a b", "/=", "", "", "2", "✓"])
        #expect(request.queryValue("q") == "a b")
    }

    @Test(arguments: [
        "GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a%2 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a?x=%G1 HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a?x=%FF HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /a%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    ])
    func rejectsInvalidPercentEncoding(text: String) {
        #expect(status(text) == 400)
    }

    @Test func keepsDuplicateHeadersInOrderAndTrimsWhitespace() throws {
        let request = try single("GET / HTTP/1.1\r\nHost: x\r\nX-Tag: one\r\nx-tag:two  \r\nX-Empty:\r\nX-Pad: \t spaced out \t\r\n\r\n")
        #expect(request.headers.values("X-Tag") == ["one", "two"])
        #expect(request.headers["X-Empty"] == "")
        #expect(request.headers["X-Pad"] == "spaced out")
        #expect(request.headers.fields.count == 5)
    }

    @Test func acceptsBareLFLineEndingsAndLeadingEmptyLines() throws {
        let request = try single("\r\n\r\nGET / HTTP/1.1\nHost: x\n\n")
        #expect(request.headers["Host"] == "x")
    }

    @Test func parsesPipelinedRequestsInOrder() throws {
        let requests = try parse(
            "GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: x\r\n\r\n"
        ).get()
        #expect(requests.map(\.path) == ["/1", "/2", "/3"])
        #expect(requests[1].body == Array("abc".utf8))
    }

    @Test func parsesInputArrivingByteByByte() throws {
        let text = "POST /x?y=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n"
        var parser = HTTPRequestParser()
        var requests: [HTTPRequest] = []
        for byte in text.utf8 {
            parser.append([byte])
            while let request = try parser.nextRequest() { requests.append(request) }
        }
        #expect(requests.map(\.path) == ["/x", "/next"])
        #expect(requests[0].body == Array("abc".utf8))
    }

    @Test func http10NeedsNoHost() throws {
        let request = try single("GET / HTTP/1.0\r\n\r\n")
        #expect(request.version == "HTTP/1.0")
    }

    @Test func http11NeedsExactlyOneHost() {
        #expect(status("GET / HTTP/1.1\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n") == 400)
    }

    // MARK: Limits

    @Test func requestLineTooLongIs414() {
        let limits = HTTPRequestParser.Limits(maxRequestLineLength: 64)
        let long = "GET /" + String(repeating: "a", count: 100) + " HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(status(long, limits: limits) == 414)
        // Refused before the line ends, too.
        #expect(status("GET /" + String(repeating: "a", count: 100), limits: limits) == 414)
        // At the limit is fine.
        let exact = "GET /" + String(repeating: "a", count: 64 - 14) + " HTTP/1.1"
        #expect(exact.utf8.count == 64)
        #expect(status(exact + "\r\nHost: x\r\n\r\n", limits: limits) == nil)
    }

    @Test func defaultRequestLineLimitIs8KiB() {
        let long = "GET /" + String(repeating: "a", count: 8 * 1024) + " HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(status(long) == 414)
    }

    @Test func headerSectionTooLargeIs431() {
        let limits = HTTPRequestParser.Limits(maxHeaderBytes: 100)
        let big = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "b", count: 200) + "\r\n\r\n"
        #expect(status(big, limits: limits) == 431)
        // Refused while still arriving.
        #expect(status("GET / HTTP/1.1\r\nX-Big: " + String(repeating: "b", count: 200), limits: limits) == 431)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nX-Small: b\r\n\r\n", limits: limits) == nil)
    }

    @Test func tooManyHeadersIs431() {
        let limits = HTTPRequestParser.Limits(maxHeaderCount: 10)
        let nine = (1...9).map { "X-\($0): v\r\n" }.joined()
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\n" + nine + "\r\n", limits: limits) == nil)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\n" + nine + "X-10: v\r\n\r\n", limits: limits) == 431)
    }

    @Test func bodyTooLargeIs413() {
        let limits = HTTPRequestParser.Limits(maxBodyBytes: 10)
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n", limits: limits) == 413)
        // Too large to represent is not a large body but a malformed one (RFC 9110 §8.6).
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", limits: limits) == 400)
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789", limits: limits) == nil)
        let chunked = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nghijk\r\n0\r\n\r\n"
        #expect(status(chunked, limits: limits) == 413)
    }

    // MARK: Framing

    @Test(arguments: ["abc", "-1", "+5", "1.0", "", "0x10", "5 5", "5,6"])
    func badContentLengthIs400(value: String) {
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \(value)\r\n\r\n") == 400)
    }

    @Test func conflictingContentLengthsAre400ButIdenticalOnesAreOne() throws {
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd") == 400)
        let request = try single("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\nabc")
        #expect(request.body == Array("abc".utf8))
    }

    @Test func contentLengthWithTransferEncodingIs400() {
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400)
    }

    @Test func decodesAChunkedBody() throws {
        let text = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;name=value\r\nhello\r\nB\r\n, chunked w\r\n5 ; x\r\norld!\r\n0\r\nX-Trailer: t\r\n\r\n"
        let request = try single(text)
        #expect(String(decoding: request.body, as: UTF8.self) == "hello, chunked world!")
    }

    @Test(arguments: [
        "zz\r\nabc\r\n0\r\n\r\n",  // not hex
        "3\r\nabcX\r\n0\r\n\r\n",  // no CRLF after data
        "3x\r\nabc\r\n0\r\n\r\n",  // junk after size
        "0\r\nbad trailer\r\n\r\n",  // trailer without colon
    ])
    func malformedChunkedBodyIs400(chunks: String) {
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks) == 400)
    }

    /// chunked last with a coding not implemented: 501; not chunked last: the length
    /// cannot be known, 400 (RFC 9112 §6.3).
    @Test(arguments: [("gzip, chunked", 501), ("deflate, chunked", 501), ("gzip", 400), ("deflate", 400), ("chunked, gzip", 400)])
    func unsupportedTransferCodings(coding: String, expected: Int) {
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \(coding)\r\n\r\n") == expected)
    }

    @Test func chunkedTwiceOrInHTTP10Is400() {
        #expect(status("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n") == 400)
        #expect(status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n") == 400)
    }

    // MARK: Syntax

    @Test(arguments: ["HTTP/2.0", "HTTP/1.2", "HTTP/0.9", "HTTP/3.0"])
    func unsupportedVersionIs505(version: String) {
        #expect(status("GET / \(version)\r\nHost: x\r\n\r\n") == 505)
    }

    @Test(arguments: ["HTTP/1.1x", "HTTP/11", "http/1.1", "HTTP/1.1 extra", "HTTP/one"])
    func malformedVersionIs400(version: String) {
        #expect(status("GET / \(version)\r\nHost: x\r\n\r\n") == 400)
    }

    @Test func obsFoldIs400() {
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nX-Long: first\r\n  continued\r\n\r\n") == 400)
        #expect(status("GET / HTTP/1.1\r\nHost: x\r\nX-Long: first\r\n\tcontinued\r\n\r\n") == 400)
    }

    @Test(arguments: [
        "HELLO\r\n\r\n",
        "GET\r\n\r\n",
        "GET  / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1 \r\nHost: x\r\n\r\n",
        "G(T / HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET noslash HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET ftp://example.com/ HTTP/1.1\r\nHost: x\r\n\r\n",  // http(s) absolute-form is accepted (RFC 9112 §3.2.2)
        "GET /a#frag HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET /\u{7F} HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-Space : v\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\n: empty name\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-Ctl: a\u{01}b\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x\r\nX-CR: a\rb\r\n\r\n",
        "\u{16}\u{03}\u{01}\u{00}\u{A5}\u{01}\u{00}\u{00}\u{A1}\u{03}\u{03}\r\n\r\n",
    ])
    func garbageIs400(text: String) {
        #expect(status(text) == 400)
    }

    @Test func binaryGarbageNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            var parser = HTTPRequestParser(limits: .init(maxRequestLineLength: 256, maxHeaderBytes: 512))
            let bytes = (0..<Int.random(in: 1...600, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            parser.append(bytes + Array("\r\n\r\n".utf8))
            do {
                _ = try parser.nextRequest()
            } catch {
                #expect([400, 414, 431, 505].contains(error.status))
            }
        }
    }

    @Test func errorsAreSticky() {
        var parser = HTTPRequestParser()
        parser.append(Array("BAD\r\n\r\n".utf8))
        #expect(throws: HTTPParseError.self) { try parser.nextRequest() }
        parser.append(Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(throws: HTTPParseError.self) { try parser.nextRequest() }
    }

    // MARK: Expect: 100-continue

    @Test func expectContinueIsSignalledOnlyBeforeTheBodyArrives() throws {
        var parser = HTTPRequestParser()
        parser.append(Array("PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n".utf8))
        #expect(try parser.nextRequest() == nil)
        #expect(parser.needsContinue)
        parser.markContinueSent()
        #expect(!parser.needsContinue)
        parser.append(Array("data".utf8))
        #expect(try parser.nextRequest()?.body == Array("data".utf8))

        var eager = HTTPRequestParser()
        eager.append(Array("PUT /x HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\nda".utf8))
        #expect(try eager.nextRequest() == nil)
        #expect(!eager.needsContinue)

        var http10 = HTTPRequestParser()
        http10.append(Array("PUT /x HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n".utf8))
        #expect(try http10.nextRequest() == nil)
        #expect(!http10.needsContinue)
    }
}
