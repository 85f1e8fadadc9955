import Foundation

/// RFC 3339 timestamps in UTC with millisecond precision, e.g. `2026-11-26T19:20:27.123Z`.
enum RFC3339 {
    static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    /// Accepts any RFC 3339 date-time (with or without fraction, `Z` or an offset).
    static func parse(_ text: String) -> Date? {
        // Foundation's parser stops where the date ends and ignores what follows.
        guard text.wholeMatch(of: shape) != nil else { return nil }
        // §5.6 allows a lowercase "t" and "z"; Foundation's parser only the capitals.
        let text = text.uppercased()
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }

    /// date-time of RFC 3339 §5.6: `2026-11-26T19:20:27Z`, `…27.123+08:00`.
    nonisolated(unsafe) private static let shape = #/\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})/#
}
