/// A body that is not a JSON object: empty, not JSON, or another JSON value.
struct MalformedJSON: Error, Sendable, Equatable {
    /// What is wrong, without a subject ("is not valid JSON …"), so that the
    /// API can say it of the request body and `import` of a line.
    var reason: String
    /// An array holds more items than the route allows (`JSONStructure.maxArrayItems`).
    var overArrayLimit = false

    /// The API's problem detail.
    var message: String { "The request body \(reason)" }
}
