import Testing

@testable import HTTPServer

/// RFC 9112 / 9110 MUSTs for requests, each with raw bytes over a real socket.
@Suite("Conformance")
struct ConformanceTests {
    /// Sends `raw`; the status of the answer, and whether the server then closed the connection.
    func answer(_ raw: String, handler: @escaping HTTPHandler = { _ in HTTPResponse(status: 200) }) async throws -> (status: Int, closed: Bool) {
        var result = (status: 0, closed: false)
        try await withServer(handler: handler) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send(raw)
            let response = try await client.readResponse()
            result.status = response.status
            if response.headers["Connection"] == "close" {
                result.closed = (try? await client.readUntilClosed(timeout: .seconds(2))) != nil
            }
        }
        return result
    }

    /// RFC 9112 §3.2: a Host that is not `uri-host [":" port]` is a 400.
    @Test(arguments: ["", "user@example.com", "example.com/path", "a.example, b.example", "example.com:80:80", "[::1", "exa mple.com",
                      "example.com:123456", "[::g]", "[]:80", "example.com:8a", "ex\u{00E4}mple.com"])
    func invalidHostIs400(_ host: String) async throws {
        let result = try await answer("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
        #expect(result.status == 400, "Host: '\(host)'")
        #expect(result.closed)
    }

    @Test(arguments: ["example.com", "example.com:8080", "127.0.0.1", "[::1]:80", "[2001:db8::1]", "xn--bcher-kva.example", "a_b.example"])
    func validHostIsServed(_ host: String) async throws {
        #expect(try await answer("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n").status == 200, "Host: '\(host)'")
    }

    /// RFC 9112 §3.2.2: a server MUST accept the absolute-form; its path and query are the
    /// request's, as in origin-form. (Found from outside: it was refused with 400.)
    @Test func theAbsoluteFormIsAccepted() async throws {
        var router = Router()
        router.add("GET", "/accounts/{user_id}") { request in
            HTTPResponse(status: 200, body: Array("\(request.pathParameters["user_id"] ?? "-") \(request.query.first?.value ?? "-")".utf8))
        }
        try await withServer(handler: router.handler) { _, port in
            for (target, body) in [("http://x/accounts/a%2Fb?q=1", "a/b 1"), ("HTTPS://x:8443/accounts/c", "c -"),
                                   ("http://[::1]:80/accounts/d?q=2", "d 2")] {
                var client = try await TestClient.connect(port: port)
                defer { client.close() }
                try await client.send("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
                let response = try await client.readResponse()
                #expect(response.status == 200, "\(target)")
                #expect(response.text == body, "\(target)")
            }
        }
        #expect(try await answer("GET http://x HTTP/1.1\r\nHost: x\r\n\r\n").status == 200, "an empty path is /")
        for target in ["ftp://x/a", "http://user@x/a", "http:/x/a", "x/a", "http://x y/a"] {
            #expect(try await answer("GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n").status == 400, "\(target)")
        }
    }

    /// RFC 9112 §3.2.4: `OPTIONS *` asks about the server as a whole; a router answers it.
    @Test func optionsAsteriskGetsAnAnswer() async throws {
        var router = Router()
        router.add("GET", "/x") { _ in HTTPResponse(status: 200) }
        router.add("POST", "/y") { _ in HTTPResponse(status: 200) }
        try await withServer(handler: router.handler) { _, port in
            var client = try await TestClient.connect(port: port)
            defer { client.close() }
            try await client.send("OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n")
            let response = try await client.readResponse()
            #expect(response.status == 204)
            #expect(response.headers["Allow"] == "GET, HEAD, POST, OPTIONS")
        }
        // Only OPTIONS may use the asterisk-form.
        #expect(try await answer("GET * HTTP/1.1\r\nHost: t\r\n\r\n").status == 400)
    }

    /// RFC 9112 §6.3: chunked not last means the length cannot be known: 400 and close.
    @Test func aFinalCodingOtherThanChunkedIs400AndCloses() async throws {
        let result = try await answer("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\nxyz")
        #expect(result.status == 400)
        #expect(result.closed)
        #expect(try await answer("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked, gzip\r\n\r\n").status == 400)
        // chunked last, with a coding not implemented: 501.
        #expect(try await answer("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n").status == 501)
    }

    /// RFC 9112 §7.1.1: `chunk-ext = *( BWS ";" BWS name [ BWS "=" BWS value ] )`.
    @Test(arguments: ["5;", "5;=x", "5; =x", "5;a=", "5 ", "5\t", "5;a b", "5;a=\"unterminated", "5;a=b,c"])
    func invalidChunkExtensionIs400AndCloses(_ sizeLine: String) async throws {
        let result = try await answer("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\(sizeLine)\r\nhello\r\n0\r\n\r\n")
        #expect(result.status == 400, "size line '\(sizeLine)'")
        #expect(result.closed)
    }

    @Test(arguments: ["5;a", "5;a=b", "5 ;a=b", "5; a = \"q \\\" d\"", "5;a=b;c"])
    func validChunkExtensionIsIgnored(_ sizeLine: String) async throws {
        let result = try await answer("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n\(sizeLine)\r\nhello\r\n0\r\n\r\n",
                                      handler: { request in HTTPResponse(status: request.body == Array("hello".utf8) ? 200 : 500) })
        #expect(result.status == 200, "size line '\(sizeLine)'")
    }

    /// A Content-Length too large to represent is malformed (400), not a large body (413).
    @Test func anUnrepresentableContentLengthIs400() async throws {
        #expect(try await answer("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999999999999999999\r\n\r\n").status == 400)
        #expect(try await answer("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n").status == 413)
    }

    /// RFC 9112 §2.2: a few empty lines before a request are ignored; a stream of them is refused, not buffered.
    @Test func emptyLinesBeforeARequestAreBounded() async throws {
        let few = String(repeating: "\r\n", count: 32)
        #expect(try await answer(few + "GET / HTTP/1.1\r\nHost: t\r\n\r\n").status == 200)
        let many = String(repeating: "\r\n", count: 33)
        #expect(try await answer(many + "GET / HTTP/1.1\r\nHost: t\r\n\r\n").status == 400)
    }
}

/// What the parser keeps buffered, whatever the client sends.
@Suite struct ParserMemoryTests {
    /// Chunk framing and extensions are dropped as they are decoded: only the body and a partial line stay.
    @Test func chunkFramingIsNotKept() throws {
        var parser = HTTPRequestParser(limits: HTTPRequestParser.Limits(maxBodyBytes: 1 << 20))
        parser.append(Array("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n".utf8))
        #expect(try parser.nextRequest() == nil)
        let chunk = Array("1;\(String(repeating: "x", count: 4000))\r\na\r\n".utf8)
        for _ in 0..<1_000 {
            parser.append(chunk)
            #expect(try parser.nextRequest() == nil)
            #expect(parser.bufferedByteCount < 8 * 1024)
        }
        parser.append(Array("0\r\n\r\n".utf8))
        #expect(try parser.nextRequest()?.body.count == 1_000)
    }

    @Test func emptyLinesAreNotKept() throws {
        var parser = HTTPRequestParser()
        parser.append(Array(String(repeating: "\r\n", count: 30).utf8))
        #expect(try parser.nextRequest() == nil)
        #expect(parser.bufferedByteCount == 0)
    }
}
