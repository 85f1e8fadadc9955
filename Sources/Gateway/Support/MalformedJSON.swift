/// A body that is not a JSON object: empty, not JSON, or another JSON value.
struct MalformedJSON: Error, Sendable, Equatable {
    var message: String
    /// An array holds more items than the route allows (`JSONStructure.maxArrayItems`).
    var overArrayLimit = false
}
