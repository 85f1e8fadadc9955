import Crypto
import Foundation

/// An internal service allowed to call the gateway.
public struct Caller: Sendable, Equatable {
    public enum Role: String, Sendable, CaseIterable, Comparable {
        case importer, auditor
        public static func < (a: Role, b: Role) -> Bool { a.rawValue < b.rawValue }
    }

    public var name: String
    public var roles: Set<Role>
    public var createdAt: Date?
    public var revokedAt: Date?

    public init(name: String, roles: Set<Role>, createdAt: Date? = nil, revokedAt: Date? = nil) {
        self.name = name
        self.roles = roles
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// Caller names: what the `callers.name` CHECK constraint accepts.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 64 else { return false }
        let isAlnum = { (b: UInt8) in ChatID.isAllowedByte(b) && b != UInt8(ascii: "_") && b != UInt8(ascii: "-") }
        return isAlnum(first) && name.utf8.allSatisfy { ChatID.isAllowedByte($0) || $0 == UInt8(ascii: ".") }
    }
}

