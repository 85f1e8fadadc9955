/// One invalid field of a request, as listed in a 400 problem's `errors`.
public struct FieldError: Sendable, Equatable, Codable {
    public var field: String
    public var message: String
}
