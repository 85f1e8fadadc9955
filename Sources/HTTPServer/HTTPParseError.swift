/// A request the server must refuse: the status to answer with (400, 413,
/// 414, 431, 501, 505) and a human-readable reason for the problem detail.
public struct HTTPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var status: Int
    public var detail: String

    public init(status: Int, detail: String) {
        self.status = status
        self.detail = detail
    }

    static func badRequest(_ detail: String) -> HTTPParseError {
        HTTPParseError(status: 400, detail: detail)
    }

    public var description: String { "\(status): \(detail)" }
}
