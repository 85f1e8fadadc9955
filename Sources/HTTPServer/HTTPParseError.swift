/// A request the server must refuse: the status to answer with (400, 413,
/// 414, 431, 501, 505) and a human-readable reason for the problem detail.
public struct HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: Int
    public var detail: String
    /// The request's head as far as it was read, when the refusal came after
    /// its header fields (a bad target or Host, framing, the body, a body
    /// timeout): so the answer can carry the caller's request ID and be counted
    /// by route. Without a body; for a bad target, `path` is the target as sent.
    public var head: HTTPRequest?

    public init(status: Int, detail: String, head: HTTPRequest? = nil) {
        self.status = status
        self.detail = detail
        self.head = head
    }

    /// Equal when they refuse alike: same status and detail, whatever head was read.
    public static func == (lhs: HTTPParseError, rhs: HTTPParseError) -> Bool {
        lhs.status == rhs.status && lhs.detail == rhs.detail
    }

    static func badRequest(_ detail: String) -> HTTPParseError {
        HTTPParseError(status: 400, detail: detail)
    }

    public var description: String { "\(status): \(detail)" }
}
