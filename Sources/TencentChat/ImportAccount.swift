/// One account for `multiaccount_import`; `Nick`/`FaceUrl` are omitted when nil.
public struct ImportAccount: Sendable, Equatable, Codable {
    public var userID: String
    public var nick: String?
    public var faceURL: String?

    public init(userID: String, nick: String? = nil, faceURL: String? = nil) {
        self.userID = userID
        self.nick = nick
        self.faceURL = faceURL
    }

    enum CodingKeys: String, CodingKey {
        case userID = "UserID"
        case nick = "Nick"
        case faceURL = "FaceUrl"
    }
}
