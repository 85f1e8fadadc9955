import Testing
@testable import HTTPServer

@Suite struct AbortedConnectionTests {
    @Test func anAbortingHandlerClosesTheConnectionWithoutAnswer() async throws {
        try await withServer(handler: { request in
            request.path == "/drop" ? .abortedConnection : HTTPResponse(status: 200)
        }) { _, port in
            var dropped = try await TestClient.connect(port: port)
            defer { dropped.close() }
            try await dropped.send("GET /drop HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(try await dropped.readUntilClosed().isEmpty)

            // The server itself carries on.
            var other = try await TestClient.connect(port: port)
            defer { other.close() }
            try await other.send("GET /fine HTTP/1.1\r\nHost: test\r\n\r\n")
            #expect(try await other.readResponse().status == 200)
        }
    }
}
