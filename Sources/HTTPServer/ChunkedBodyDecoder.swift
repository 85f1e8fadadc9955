/// Decodes a `Transfer-Encoding: chunked` body (RFC 9112 §7.1) incrementally:
/// it consumes what it can from the parser's buffer and resumes later.
/// Chunk extensions and trailer fields are validated and dropped.
struct ChunkedBodyDecoder: Sendable {
    private enum Stage {
        case size
        case data(remaining: Int)
        case dataEnd
        case trailers(bytes: Int, count: Int)
    }

    /// A size line longer than this (hex digits plus extensions) is refused.
    static let maxSizeLineLength = 4096
    private static let maxSizeDigits = 15

    private let maxBodyBytes: Int
    private let maxTrailerBytes: Int
    private let maxTrailerCount: Int
    private var stage = Stage.size
    private(set) var body: [UInt8] = []
    /// Whether any of the body has arrived (a 100 Continue would be late).
    private(set) var hasStarted = false

    init(maxBodyBytes: Int, maxTrailerBytes: Int, maxTrailerCount: Int) {
        self.maxBodyBytes = maxBodyBytes
        self.maxTrailerBytes = maxTrailerBytes
        self.maxTrailerCount = maxTrailerCount
    }

    /// Consumes from `buffer[position...]`; returns the body once the last
    /// chunk and trailers are complete, nil when more bytes are needed.
    mutating func decode(_ buffer: [UInt8], position: inout Int) throws(HTTPParseError) -> [UInt8]? {
        if position < buffer.count { hasStarted = true }
        while true {
            switch stage {
            case .size:
                guard let line = Self.line(in: buffer, from: &position, limit: Self.maxSizeLineLength) else {
                    if buffer.count - position > Self.maxSizeLineLength { throw .badRequest("chunk size line too long") }
                    return nil
                }
                let size = try parseSize(line)
                guard size <= maxBodyBytes - body.count else {
                    throw HTTPParseError(status: 413, detail: "chunked body exceeds \(maxBodyBytes) bytes")
                }
                stage = size == 0 ? .trailers(bytes: 0, count: 0) : .data(remaining: size)

            case let .data(remaining):
                let available = min(remaining, buffer.count - position)
                guard available > 0 else { return nil }
                body.append(contentsOf: buffer[position..<position + available])
                position += available
                stage = available == remaining ? .dataEnd : .data(remaining: remaining - available)

            case .dataEnd:
                guard let line = Self.line(in: buffer, from: &position, limit: 1) else {
                    if buffer.count - position >= 2 { throw .badRequest("chunk data not followed by CRLF") }
                    return nil
                }
                guard line.isEmpty else { throw .badRequest("chunk data not followed by CRLF") }
                stage = .size

            case let .trailers(bytes, count):
                let start = position
                guard let line = Self.line(in: buffer, from: &position, limit: maxTrailerBytes - bytes) else {
                    if bytes + buffer.count - position > maxTrailerBytes {
                        throw HTTPParseError(status: 431, detail: "trailer section exceeds \(maxTrailerBytes) bytes")
                    }
                    return nil
                }
                if line.isEmpty {
                    stage = .size
                    defer { body = [] }
                    return body
                }
                guard count < maxTrailerCount else {
                    throw HTTPParseError(status: 431, detail: "more than \(maxTrailerCount) trailer fields")
                }
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")), HTTPSyntax.isToken(line[..<colon]),
                      line[line.index(after: colon)...].allSatisfy(HTTPSyntax.isFieldValueByte) else {
                    throw .badRequest("malformed trailer field")
                }
                stage = .trailers(bytes: bytes + position - start, count: count + 1)
            }
        }
    }

    /// `1*HEXDIG [ BWS ";" chunk-ext ]`; the extension is checked for stray
    /// control bytes and otherwise ignored.
    private func parseSize(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        let digits = line.prefix { PercentDecoding.hexValue($0) != nil }
        guard !digits.isEmpty else { throw .badRequest("invalid chunk size") }
        guard digits.count <= Self.maxSizeDigits else {
            throw HTTPParseError(status: 413, detail: "chunked body exceeds \(maxBodyBytes) bytes")
        }
        let rest = line[digits.endIndex...].drop(while: HTTPSyntax.isWhitespace)
        guard rest.isEmpty || (rest.first == UInt8(ascii: ";") && rest.allSatisfy(HTTPSyntax.isFieldValueByte)) else {
            throw .badRequest("invalid chunk size")
        }
        return digits.reduce(0) { $0 << 4 | Int(PercentDecoding.hexValue($1) ?? 0) }
    }

    /// The next line (without its CRLF or bare LF) if its LF lies within
    /// `limit` bytes (plus CRLF); advances `position` past it.
    private static func line(in buffer: [UInt8], from position: inout Int, limit: Int) -> ArraySlice<UInt8>? {
        let end = min(buffer.count, position + max(limit, 0) + 2)
        guard let lf = buffer[position..<end].firstIndex(of: HTTPSyntax.lf) else { return nil }
        var line = buffer[position..<lf]
        if line.last == HTTPSyntax.cr { line = line.dropLast() }
        position = lf + 1
        return line
    }
}
