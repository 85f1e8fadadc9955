/// A result's column names and a name → position index, shared by all its rows (one allocation per
/// result).
final class PostgresColumns: Sendable {
    let names: [String]
    private let positions: [String: Int]

    init(_ names: [String]) {
        self.names = names
        var positions: [String: Int] = [:]
        // With duplicate names (`SELECT 1 AS a, 2 AS a`) the first one wins, as in most drivers.
        for (position, name) in names.enumerated() where positions[name] == nil {
            positions[name] = position
        }
        self.positions = positions
    }

    func position(of name: String) -> Int? { positions[name] }
}
