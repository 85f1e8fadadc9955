import Foundation

/// A validated import request for one account.
public struct AccountInput: Sendable, Equatable {
    public var userID: String
    public var chatUserID: String
    /// `nil` means "not given": an existing profile field is left as it is.
    public var nick: String?
    public var faceURL: String?

    /// Tencent's profile field limit.
    public static let maxProfileBytes = 500

    public init(userID: String, chatUserID: String, nick: String?, faceURL: String?) {
        self.userID = userID
        self.chatUserID = chatUserID
        self.nick = nick
        self.faceURL = faceURL
    }

    /// Validates one account object. `path` prefixes field names (e.g. `accounts[3].`).
    /// Unknown fields are refused: a typo such as `faceUrl` must not silently drop a profile.
    static func parse(_ object: [String: Any], strategy: IDStrategy, path: String = "") throws(ValidationFailure) -> AccountInput {
        var errors: [FieldError] = []
        for key in object.keys.sorted() where !["user_id", "nick", "face_url"].contains(key) {
            errors.append(FieldError(field: path + key, message: "unknown field"))
        }
        var userID = ""
        switch object["user_id"] {
        case nil, is NSNull:
            errors.append(FieldError(field: path + "user_id", message: "is required"))
        case let value as String:
            userID = value
            if let problem = strategy.problem(with: value) {
                errors.append(FieldError(field: path + "user_id", message: problem))
            }
        default:
            errors.append(FieldError(field: path + "user_id", message: "must be a string"))
        }
        let nick = profileField(object["nick"], name: path + "nick", errors: &errors)
        let faceURL = profileField(object["face_url"], name: path + "face_url", errors: &errors)
        if let faceURL, !faceURL.isEmpty, !isWebURL(faceURL) {
            errors.append(FieldError(field: path + "face_url", message: "must be an absolute http or https URL (or empty)"))
        }
        if !errors.isEmpty { throw ValidationFailure(errors: errors) }
        return AccountInput(userID: userID, chatUserID: strategy.chatUserID(for: userID), nick: nick, faceURL: faceURL)
    }

    /// An absolute `http` or `https` URL with a host: what a chat client may load as a
    /// profile picture. Anything else (`javascript:`, `data:`, a relative path) is refused.
    static func isWebURL(_ text: String) -> Bool {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(),
              scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty else { return false }
        return true
    }

    private static func profileField(_ value: Any?, name: String, errors: inout [FieldError]) -> String? {
        switch value {
        case nil, is NSNull:
            return nil
        case let text as String:
            let bytes = text.utf8.count
            if bytes > maxProfileBytes {
                errors.append(FieldError(field: name, message: "must be at most \(maxProfileBytes) bytes (got \(bytes))"))
            } else if text.unicodeScalars.contains(where: \.isControlCharacter) {
                errors.append(FieldError(field: name, message: "must not contain control characters"))
            }
            return text
        default:
            errors.append(FieldError(field: name, message: "must be a string"))
            return nil
        }
    }
}

/// The field errors of one invalid request.
struct ValidationFailure: Error, Equatable {
    var errors: [FieldError]
}
