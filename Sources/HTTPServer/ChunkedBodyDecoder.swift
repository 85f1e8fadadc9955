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

    /// `1*HEXDIG *( BWS ";" BWS ext-name [ BWS "=" BWS ext-value ] )` (RFC 9112
    /// §7.1.1); extensions are checked, then ignored.
    private func parseSize(_ line: ArraySlice<UInt8>) throws(HTTPParseError) -> Int {
        let digits = line.prefix { PercentDecoding.hexValue($0) != nil }
        guard !digits.isEmpty else { throw .badRequest("invalid chunk size") }
        guard digits.count <= Self.maxSizeDigits else {
            throw HTTPParseError(status: 413, detail: "chunked body exceeds \(maxBodyBytes) bytes")
        }
        guard Self.isValidExtensionList(line[digits.endIndex...]) else { throw .badRequest("invalid chunk extension") }
        return digits.reduce(0) { $0 << 4 | Int(PercentDecoding.hexValue($1) ?? 0) }
    }

    /// Zero or more `BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ]`.
    static func isValidExtensionList(_ text: ArraySlice<UInt8>) -> Bool {
        var rest = text
        func skipWhitespace() { rest = rest.drop(while: HTTPSyntax.isWhitespace) }
        func token() -> Bool {
            let name = rest.prefix(while: HTTPSyntax.isTokenByte)
            rest = rest[name.endIndex...]
            return !name.isEmpty
        }
        while !rest.isEmpty {
            skipWhitespace()
            guard rest.first == UInt8(ascii: ";") else { return false }  // also: whitespace with nothing after it
            rest = rest.dropFirst()
            skipWhitespace()
            guard token() else { return false }
            skipWhitespace()
            guard rest.first == UInt8(ascii: "=") else { continue }
            rest = rest.dropFirst()
            skipWhitespace()
            if rest.first == UInt8(ascii: "\"") {
                guard let end = quotedStringEnd(rest) else { return false }
                rest = rest[end...]
            } else if !token() {
                return false
            }
        }
        return true
    }

    /// The index after a quoted-string's closing quote, or nil when it is not one.
    private static func quotedStringEnd(_ text: ArraySlice<UInt8>) -> Int? {
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            switch text[index] {
            case UInt8(ascii: "\""): return index + 1
            case UInt8(ascii: "\\"):
                index += 2
            case let byte where byte == HTTPSyntax.tab || (byte >= 0x20 && byte != 0x7F):
                index += 1
            default:
                return nil
            }
        }
        return nil
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
