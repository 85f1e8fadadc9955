/// A user_id as PostgreSQL compares it: byte for byte. Swift's `==` and `<` on
/// `String` follow canonical equivalence, so "café" written with "é" and with
/// "e" plus a combining accent are one key there, but two accounts in the
/// database (and two chat_user_ids under `hashed`, which hashes the bytes).
/// Maps and sets of user_ids that decide which account is which use this key.
struct UserIDKey: Hashable, Sendable {
    let utf8: [UInt8]

    init(_ userID: String) {
        utf8 = Array(userID.utf8)
    }

    /// PostgreSQL's order for user_id (collation "C"): the bytes'.
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}
