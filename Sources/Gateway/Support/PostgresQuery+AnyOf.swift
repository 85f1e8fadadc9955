import PostgresClient

extension PostgresQuery {
    /// `ANY (…)` of `values`, bound as one jsonb parameter, for `column = \(fragment: .any(of: values))`:
    /// one statement text for any number of values, and, through `ARRAY(…)`, PostgreSQL
    /// finds the rows by the column's index (a join with the values could scan the table).
    static func any(of values: [String]) -> PostgresQuery {
        "ANY (ARRAY(SELECT jsonb_array_elements_text(\(JSON.text(values))::jsonb)))"
    }
}
