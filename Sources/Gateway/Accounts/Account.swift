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

extension Account: Encodable {
    enum CodingKeys: String, CodingKey {
        case userID = "user_id", chatUserID = "chat_user_id", nick, faceURL = "face_url", status
        case createdAt = "created_at", updatedAt = "updated_at", importedAt = "imported_at"
        case attempts, lastError = "last_error"
    }

    /// Every key is always present; absent values are `null`, as the contract's body lists them.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(userID, forKey: .userID)
        try c.encode(chatUserID, forKey: .chatUserID)
        try c.encode(nick, forKey: .nick)
        try c.encode(faceURL, forKey: .faceURL)
        try c.encode(status, forKey: .status)
        try c.encode(RFC3339.string(createdAt), forKey: .createdAt)
        try c.encode(RFC3339.string(updatedAt), forKey: .updatedAt)
        try c.encode(importedAt.map(RFC3339.string), forKey: .importedAt)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(lastError, forKey: .lastError)
    }
}
