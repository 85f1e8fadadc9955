extension Unicode.Scalar {
    /// A control character (general category Cc: U+0000–U+001F, U+007F–U+009F),
    /// which no field of a request may carry and PostgreSQL's text cannot always store.
    var isControlCharacter: Bool { properties.generalCategory == .control }
}
