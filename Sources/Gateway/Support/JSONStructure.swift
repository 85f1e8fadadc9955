/// What `JSONSerialization` lets through and a request body must not have:
/// an object with the same key twice (which value would win is the parser's
/// choice, not the caller's), a comma before a closing bracket (RFC 8259 has
/// none; Foundation's parser on Linux accepts it), nesting deeper than a request
/// ever needs, and an array longer than the route allows. One pass over the bytes, before the body
/// is parsed into values; a body that is not JSON at all is left to the parser.
struct JSONStructure {
    /// Objects and arrays inside each other; the deepest body a route takes has 3.
    var maxDepth = 8
    /// Items of any one array; the batch route's limit, counted while scanning.
    var maxArrayItems = Int.max

    enum Problem: Error, Equatable {
        case duplicateKey(String)
        case trailingComma
        case tooDeep(limit: Int)
        case tooManyItems(limit: Int)
    }

    private enum Container {
        case object(keys: Set<String>)
        case array(items: Int)
    }

    func check(_ bytes: [UInt8]) throws(Problem) {
        var stack: [Container] = []
        var index = 0
        // After a string in an object, whether it is a key (followed by ':').
        var expectingKey = false
        // Whether the last token was a comma (whitespace and ':' aside).
        var afterComma = false
        while index < bytes.count {
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                afterComma = false
                try countItem(&stack)
                guard stack.count < maxDepth else { throw .tooDeep(limit: maxDepth) }
                stack.append(byte == UInt8(ascii: "{") ? .object(keys: []) : .array(items: 0))
                expectingKey = byte == UInt8(ascii: "{")
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard !afterComma else { throw .trailingComma }
                _ = stack.popLast()
                expectingKey = false
                index += 1
            case UInt8(ascii: ","):
                if case .object = stack.last { expectingKey = true }
                afterComma = true
                index += 1
            case UInt8(ascii: "\""):
                afterComma = false
                guard let (text, end) = Self.string(in: bytes, from: index) else { return }  // malformed: the parser says so
                index = end
                if expectingKey, case .object(var keys) = stack.last {
                    guard keys.insert(text).inserted else { throw .duplicateKey(text) }
                    stack[stack.count - 1] = .object(keys: keys)
                    expectingKey = false
                } else {
                    try countItem(&stack)
                }
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: ":"):
                index += 1
            default:
                // A number, true, false or null: one item, up to the next delimiter.
                afterComma = false
                try countItem(&stack)
                while index < bytes.count, !Self.delimiters.contains(bytes[index]) { index += 1 }
            }
        }
    }

    private static let delimiters: Set<UInt8> = Set(",:[]{}\" \t\r\n".utf8)

    /// A value starting in an array counts against the limit.
    private func countItem(_ stack: inout [Container]) throws(Problem) {
        guard case .array(let items) = stack.last else { return }
        guard items < maxArrayItems else { throw .tooManyItems(limit: maxArrayItems) }
        stack[stack.count - 1] = .array(items: items + 1)
    }

    /// The decoded string starting at the quote at `start`, and the index after its
    /// closing quote; nil when it is malformed.
    private static func string(in bytes: [UInt8], from start: Int) -> (String, Int)? {
        var scalars = String.UnicodeScalarView()
        var raw: [UInt8] = []
        var index = start + 1
        func flush() {
            scalars.append(contentsOf: String(decoding: raw, as: UTF8.self).unicodeScalars)
            raw.removeAll(keepingCapacity: true)
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                flush()
                return (String(scalars), index + 1)
            }
            guard byte == UInt8(ascii: "\\") else {
                raw.append(byte)
                index += 1
                continue
            }
            guard index + 1 < bytes.count else { return nil }
            flush()
            let escape = bytes[index + 1]
            index += 2
            switch escape {
            case UInt8(ascii: "u"):
                guard var unit = hex4(bytes, at: index) else { return nil }
                index += 4
                // A surrogate pair is one scalar; a lone surrogate is left to the parser to refuse.
                if (0xD800..<0xDC00).contains(unit), index + 5 < bytes.count, bytes[index] == UInt8(ascii: "\\"),
                   bytes[index + 1] == UInt8(ascii: "u"), let low = hex4(bytes, at: index + 2), (0xDC00..<0xE000).contains(low) {
                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                    index += 6
                }
                guard let scalar = Unicode.Scalar(unit) else { return nil }
                scalars.append(scalar)
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            default: scalars.append(Unicode.Scalar(escape))  // \" \\ \/
            }
        }
        return nil
    }

    private static func hex4(_ bytes: [UInt8], at index: Int) -> UInt32? {
        guard index + 4 <= bytes.count else { return nil }
        var value: UInt32 = 0
        for byte in bytes[index..<index + 4] {
            guard let digit = Character(Unicode.Scalar(byte)).hexDigitValue else { return nil }
            value = value << 4 | UInt32(digit)
        }
        return value
    }
}
