import Foundation

/// RFC 3339 timestamps in UTC with millisecond precision, e.g. `2026-11-26T19:20:27.123Z`.
enum RFC3339 {
    static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    /// Accepts any RFC 3339 date-time (with or without fraction, `Z` or an offset).
    static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }
}
