import Foundation

/// The mapping of one app user to a Chat account, and where its import stands.
public struct Account: Sendable, Equatable {
    public enum Status: String, Sendable, Codable {
        case pending, imported, failed
    }

    /// An error as Tencent reported it.
    public struct UpstreamError: Sendable, Equatable, Codable {
        public var code: Int
        public var info: String
    }

    public var userID: String
    public var chatUserID: String
    public var nick: String?
    public var faceURL: String?
    public var status: Status
    public var createdAt: Date
    public var updatedAt: Date
    public var importedAt: Date?
    public var attempts: Int
    public var lastError: UpstreamError?
    /// Whether Tencent has confirmed this account at least once.
    public var upstreamExists: Bool

    /// Tencent has this account, or may have it: it confirmed it once, or an
    /// earlier attempt may have reached it (a lost answer, or a replica that died
    /// between the call and its record, leaves no trace here). Such an account
    /// goes through multiaccount_import, which also sets a profile changed since;
    /// account_import would leave the old one. (`attempts` counts the attempt of
    /// a claimed account too, so more than one means an earlier attempt.)
    var mayExistUpstream: Bool { upstreamExists || attempts > 1 }

    /// The profile a request would leave behind: given fields replace, missing ones stay.
    func merging(_ input: AccountInput) -> (nick: String?, faceURL: String?) {
        (input.nick ?? nick, input.faceURL ?? faceURL)
    }

    /// Whether the request would change the stored profile.
    func changes(_ input: AccountInput) -> Bool {
        let profile = merging(input)
        return profile.nick != nick || profile.faceURL != faceURL
    }
}

extension Account: JSONWritable {
    /// Every key is always present, in sorted order; absent values are `null`, as the contract's body lists them.
    func write(to json: inout JSONWriter) {
        json.object { json in
            json.field("attempts", attempts)
            json.field("chat_user_id", chatUserID)
            json.field("created_at", RFC3339.string(createdAt))
            json.field("face_url", faceURL)
            json.field("imported_at", importedAt.map(RFC3339.string))
            json.key("last_error")
            if let lastError {
                json.object { json in
                    json.field("code", lastError.code)
                    json.field("info", lastError.info)
                }
            } else {
                json.null()
            }
            json.field("nick", nick)
            json.field("status", status.rawValue)
            json.field("updated_at", RFC3339.string(updatedAt))
            json.field("user_id", userID)
        }
    }
}
