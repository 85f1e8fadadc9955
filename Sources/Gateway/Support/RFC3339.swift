import Foundation

/// RFC 3339 timestamps in UTC with millisecond precision, e.g. `2026-11-26T19:20:27.123Z`.
enum RFC3339 {
    static func string(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true, timeZone: .gmt))
    }

    /// Accepts any RFC 3339 date-time (with or without fraction, `Z` or an offset).
    static func parse(_ text: String) -> Date? {
        // Foundation's parser stops where the date ends and ignores what follows,
        // and rolls impossible fields over (February 30th, 25:00, minute 61).
        guard let match = text.wholeMatch(of: shape), fieldsAreInRange(match.output) else { return nil }
        // §5.6 allows a lowercase "t" and "z"; Foundation's parser only the capitals.
        let text = text.uppercased()
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }

    /// date-time of RFC 3339 §5.6: `2026-11-26T19:20:27Z`, `…27.123+08:00`.
    nonisolated(unsafe) private static let shape =
        #/(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-](\d{2}):(\d{2}))/#

    /// RFC 3339 §5.7's ranges: month 1–12, the month's days (February 29th in
    /// leap years), hour 0–23, minute 0–59, second 0–60 (a leap second), and an
    /// offset of at most 23:59.
    private static func fieldsAreInRange(
        _ f: (Substring, Substring, Substring, Substring, Substring, Substring, Substring, Substring?, Substring,
              Substring?, Substring?)
    ) -> Bool {
        guard let year = Int(f.1), let month = Int(f.2), let day = Int(f.3), let hour = Int(f.4), let minute = Int(f.5),
              let second = Int(f.6) else { return false }
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), (1...days[month - 1]).contains(day), hour <= 23, minute <= 59, second <= 60 else {
            return false
        }
        if let offsetHour = f.9.flatMap({ Int($0) }), let offsetMinute = f.10.flatMap({ Int($0) }) {
            return offsetHour <= 23 && offsetMinute <= 59
        }
        return true
    }
}
