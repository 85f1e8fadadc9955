import Foundation

/// An imported account as the sandbox keeps it.
public struct SandboxAccount: Sendable, Equatable, Codable {
    public var userID: String
    public var nick: String?
    public var faceURL: String?
    /// How many import calls named this UserID (the first included).
    public var importCount: Int
    public var firstImportedAt: Date
    public var lastImportedAt: Date

    enum CodingKeys: String, CodingKey {
        case userID = "user_id"
        case nick
        case faceURL = "face_url"
        case importCount = "import_count"
        case firstImportedAt = "first_imported_at"
        case lastImportedAt = "last_imported_at"
    }
}
