import Foundation

/// The rows of an import file, as `ImportReader` yields them: CSV with a
/// header naming `user_id` and optionally `nick` and `face_url` (RFC 4180
/// quoting; an empty field is absent), or NDJSON with one account object per
/// line.
enum ImportFile {
    struct Row: Sendable {
        var line: Int
        var input: Result<AccountInput, Message>
    }

    struct Message: Error, Sendable, Equatable {
        var text: String
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func parse(_ object: [String: Any], strategy: IDStrategy) -> Result<AccountInput, Message> {
        do {
            return .success(try AccountInput.parse(object, strategy: strategy))
        } catch {
            return .failure(Message(text: error.errors.map { "\($0.field) \($0.message)" }.joined(separator: "; ")))
        }
    }
}

