/// The request cannot be stored as asked: its chat_user_id belongs to another
/// user_id, or a concurrent change of the same account got in the way. The edge answers 409.
struct AccountConflict: Error, Sendable, Equatable {
    var message: String
}
