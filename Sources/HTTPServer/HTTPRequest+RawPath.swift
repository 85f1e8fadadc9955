extension HTTPRequest {
    /// The path as sent, still percent-encoded and without the query: what
    /// `Router.match(method:path:)` expects, since decoding the whole path
    /// first would turn an encoded `/` inside a segment into a separator.
    /// Falls back to `path` when `target` is not origin-form (e.g. a request
    /// built by hand without one).
    public var rawPath: String {
        guard target.utf8.first == UInt8(ascii: "/") else { return path }
        guard let query = target.utf8.firstIndex(of: UInt8(ascii: "?")) else { return target }
        return String(target[..<query])
    }
}
