/// An HTTP/1.1 request parser fed with bytes, knowing nothing of sockets:
/// `append` what arrives, then call `nextRequest()` until it returns nil.
/// Pipelined requests come out one by one, in order. Every malformed or
/// oversized input ends in an `HTTPParseError` carrying the status to answer
/// with; after one, the parser stays failed (the connection must close).
public struct HTTPRequestParser: Sendable {
    public struct Limits: Sendable, Equatable {
        /// Longest request line, without its CRLF (→ 414).
        public var maxRequestLineLength: Int
        /// Largest header section after the request line, and trailer section (→ 431).
        public var maxHeaderBytes: Int
        /// Most header fields, and trailer fields (→ 431).
        public var maxHeaderCount: Int
        /// Largest body, by Content-Length or once de-chunked (→ 413).
        public var maxBodyBytes: Int

        public init(
            maxRequestLineLength: Int = 8 * 1024, maxHeaderBytes: Int = 32 * 1024,
            maxHeaderCount: Int = 100, maxBodyBytes: Int = 1024 * 1024
        ) {
            self.maxRequestLineLength = maxRequestLineLength
            self.maxHeaderBytes = maxHeaderBytes
            self.maxHeaderCount = maxHeaderCount
            self.maxBodyBytes = maxBodyBytes
        }
    }

    enum Framing: Equatable {
        case none
        case length(Int)
        case chunked
    }

    /// A request whose head is parsed and whose body is still arriving.
    private struct PendingBody {
        var request: HTTPRequest
        var framing: Framing
    }

    public let limits: Limits
    private var buffer: [UInt8] = []
    /// First byte not yet consumed.
    private var position = 0
    /// Where the search for the end of the head resumes, so a head that
    /// trickles in byte by byte is scanned once, not once per byte.
    private var scanPosition = 0
    /// Start of the head line being scanned.
    private var lineStart = 0
    /// Index of the LF ending the request line, once seen.
    private var requestLineEnd: Int?
    private var pending: PendingBody?
    private var chunked: ChunkedBodyDecoder
    private var continueExpected = false
    private var failure: HTTPParseError?
    /// Empty-line bytes skipped before the request line being waited for.
    private var skippedEmptyBytes = 0
    /// More empty-line bytes than this before a request line are refused: a
    /// client may send a CRLF or two after a body, not a stream of them.
    static let maxEmptyBytesBeforeRequest = 64

    public init(limits: Limits = Limits()) {
        self.limits = limits
        self.chunked = Self.makeChunkedDecoder(limits)
    }

    public mutating func append(_ bytes: some Sequence<UInt8>) {
        buffer.append(contentsOf: bytes)
    }

    /// Bytes received but not yet part of a returned request.
    public var hasBufferedBytes: Bool {
        position < buffer.count || (pending != nil && chunked.hasStarted)
    }

    /// Bytes held in the buffer, consumed or not (for tests of the memory bounds).
    var bufferedByteCount: Int { buffer.count }

    /// True between a parsed head and its complete body.
    public var isReadingBody: Bool { pending != nil }

    /// The head of the request whose body is arriving, if any.
    public var headInProgress: HTTPRequest? { pending?.request }

    /// The client sent `Expect: 100-continue` and waits for `HTTP/1.1 100
    /// Continue` before sending the body; the caller should send it now.
    public var needsContinue: Bool { continueExpected && pending != nil }

    public mutating func markContinueSent() {
        continueExpected = false
    }

    /// The next complete request, or nil when more bytes are needed.
    public mutating func nextRequest() throws(HTTPParseError) -> HTTPRequest? {
        if let failure { throw failure }
        do {
            if pending == nil {
                guard let head = try parseHead() else { return nil }
                pending = head
            }
            guard var complete = pending else { return nil }
            guard let body = try readBody(complete.framing) else { return nil }
            complete.request.body = body
            pending = nil
            continueExpected = false
            compact()
            return complete.request
        } catch {
            var error = error
            if error.head == nil { error.head = pending?.request }
            failure = error
            throw error
        }
    }

    // MARK: - Body

    private mutating func readBody(_ framing: Framing) throws(HTTPParseError) -> [UInt8]? {
        switch framing {
        case .none:
            return []
        case let .length(length):
            if position < buffer.count { continueExpected = false }
            guard buffer.count - position >= length else { return nil }
            defer { position += length }
            return Array(buffer[position..<position + length])
        case .chunked:
            if position < buffer.count { continueExpected = false }
            guard let body = try chunked.decode(buffer, position: &position) else {
                // The decoder keeps the body it has read: what it consumed (data,
                // size lines, extensions) need not stay buffered until the end.
                compact()
                return nil
            }
            chunked = Self.makeChunkedDecoder(limits)
            return body
        }
    }

    private static func makeChunkedDecoder(_ limits: Limits) -> ChunkedBodyDecoder {
        ChunkedBodyDecoder(
            maxBodyBytes: limits.maxBodyBytes, maxTrailerBytes: limits.maxHeaderBytes, maxTrailerCount: limits.maxHeaderCount)
    }

    /// Drops consumed bytes once a request is complete; indices stay valid
    /// while a request is in progress.
    private mutating func compact() {
        buffer.removeSubrange(0..<position)
        position = 0
        scanPosition = 0
        lineStart = 0
        requestLineEnd = nil
        if pending == nil { skippedEmptyBytes = 0 }
    }

    // MARK: - Head

    private mutating func parseHead() throws(HTTPParseError) -> PendingBody? {
        if requestLineEnd == nil {
            // Empty lines before a request line are ignored (RFC 9112 §2.2),
            // e.g. a CRLF a client sent after the previous body.
            var skipped = 0
            while position < buffer.count, buffer[position] == HTTPSyntax.cr || buffer[position] == HTTPSyntax.lf {
                position += 1
                skipped += 1
            }
            if skipped > 0 {
                let total = skippedEmptyBytes + skipped
                guard total <= Self.maxEmptyBytesBeforeRequest else { throw .badRequest("too many empty lines before the request line") }
                compact()  // nothing of a request yet: forget them
                skippedEmptyBytes = total
            }
            lineStart = position
            scanPosition = max(scanPosition, position)
        }
        guard let headEnd = try findHeadEnd() else { return nil }
        let lines = Self.lines(buffer[position..<headEnd])
        position = headEnd
        requestLineEnd = nil
        guard let requestLine = lines.first else { throw .badRequest("missing request line") }
        let head = try Self.parseHead(requestLine: requestLine, headerLines: lines.dropFirst(), limits: limits)
        continueExpected = head.expectsContinue
        return PendingBody(request: head.request, framing: head.framing)
    }

    /// Index just past the empty line ending the head, nil if not there yet.
    /// Enforces the request-line and header-section limits while waiting.
    private mutating func findHeadEnd() throws(HTTPParseError) -> Int? {
        while let lf = buffer[scanPosition...].firstIndex(of: HTTPSyntax.lf) {
            let length = Self.lineLength(buffer, from: lineStart, lf: lf)
            scanPosition = lf + 1
            lineStart = lf + 1
            if let requestLineEnd {
                try checkHeaderSection(bytes: lf - requestLineEnd)
                if length == 0 { return lf + 1 }
            } else {
                try checkRequestLine(length: length)
                requestLineEnd = lf
            }
        }
        scanPosition = buffer.count
        if let requestLineEnd {
            try checkHeaderSection(bytes: buffer.count - (requestLineEnd + 1))
        } else if buffer.count - lineStart > limits.maxRequestLineLength + 1 {
            // +1: the line may yet end in CRLF.
            try checkRequestLine(length: buffer.count - lineStart)
        }
        return nil
    }

    private func checkRequestLine(length: Int) throws(HTTPParseError) {
        guard length <= limits.maxRequestLineLength else {
            throw HTTPParseError(status: 414, detail: "request line exceeds \(limits.maxRequestLineLength) bytes")
        }
    }

    private func checkHeaderSection(bytes: Int) throws(HTTPParseError) {
        guard bytes <= limits.maxHeaderBytes else {
            throw HTTPParseError(status: 431, detail: "header section exceeds \(limits.maxHeaderBytes) bytes")
        }
    }

    private static func lineLength(_ buffer: [UInt8], from start: Int, lf: Int) -> Int {
        lf > start && buffer[lf - 1] == HTTPSyntax.cr ? lf - 1 - start : lf - start
    }

    /// The head split into lines without CRLF (or bare LF), dropping the
    /// final empty line.
    private static func lines(_ head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = head.startIndex
        while let lf = head[start...].firstIndex(of: HTTPSyntax.lf) {
            var line = head[start..<lf]
            if line.last == HTTPSyntax.cr { line = line.dropLast() }
            lines.append(line)
            start = lf + 1
        }
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines
    }
}
