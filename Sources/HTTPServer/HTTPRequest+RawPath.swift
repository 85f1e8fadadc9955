extension HTTPRequest {
    /// The path as sent, still percent-encoded and without the query: what
    /// `Router.match(method:path:)` expects, since decoding the whole path
    /// first would turn an encoded `/` inside a segment into a separator.
    /// Falls back to `path` when `target` is not origin-form (e.g. a request
    /// built by hand without one).
    public var rawPath: String {
        target.hasPrefix("/") ? String(target.prefix { $0 != "?" }) : path
    }
}
