/// The isolation level a transaction starts with (`BEGIN ISOLATION LEVEL ...`).
public enum PostgresTransactionIsolation: String, Sendable, Hashable {
    case readCommitted
    case repeatableRead
    case serializable

    var sql: String {
        switch self {
        case .readCommitted: return "READ COMMITTED"
        case .repeatableRead: return "REPEATABLE READ"
        case .serializable: return "SERIALIZABLE"
        }
    }
}
