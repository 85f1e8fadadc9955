import Foundation

/// timestamptz as text, by hand: integer arithmetic on microseconds since 1970, no DateFormatter
/// (whose locale, calendar and thread-safety quirks have no place in a wire format).
///
/// Sent as RFC 3339 in UTC with microseconds (`2026-11-26T19:20:27.123456Z`); read back in the form
/// PostgreSQL prints with `DateStyle = ISO` (`2026-11-26 19:20:27.123456+00`, fraction and offset
/// minutes optional).
enum PostgresTimestamp {
    private static let microsecondsPerSecond: Int64 = 1_000_000
    private static let secondsPerDay: Int64 = 86_400

    static func format(_ date: Date) -> String {
        // Round to the microsecond, PostgreSQL's resolution, so what is stored is the nearest
        // representable instant.
        let micros = Int64((date.timeIntervalSince1970 * 1_000_000).rounded())
        let seconds = floorDivide(micros, microsecondsPerSecond)
        let fraction = micros - seconds * microsecondsPerSecond
        let days = floorDivide(seconds, secondsPerDay)
        let secondOfDay = seconds - days * secondsPerDay
        let (year, month, day) = civil(fromDays: days)
        // Year 0 is 1 BC in PostgreSQL's (and the proleptic Gregorian) reckoning.
        let isBC = year <= 0
        var text =
            pad(isBC ? 1 - year : year, 4) + "-" + pad(Int64(month), 2) + "-" + pad(Int64(day), 2)
        text +=
            "T" + pad(secondOfDay / 3600, 2) + ":" + pad(secondOfDay / 60 % 60, 2) + ":"
            + pad(secondOfDay % 60, 2)
        text += "." + pad(fraction, 6) + "Z"
        return isBC ? text + " BC" : text
    }

    /// `nil` for anything that is not a finite ISO timestamp (including `infinity`).
    static func parse(_ text: String) -> Date? {
        var scanner = Scanner(Array(text.utf8))
        var isBC = false
        if scanner.bytes.count > 3, scanner.bytes.suffix(3).elementsEqual(" BC".utf8) {
            isBC = true
            scanner.bytes.removeLast(3)
        }
        guard let year = scanner.number(minDigits: 4, maxDigits: 9), scanner.take("-"),
            let month = scanner.number(minDigits: 2, maxDigits: 2), scanner.take("-"),
            let day = scanner.number(minDigits: 2, maxDigits: 2)
        else { return nil }

        var hour: Int64 = 0
        var minute: Int64 = 0
        var second: Int64 = 0
        var micros: Int64 = 0
        var offset: Int64 = 0
        if !scanner.atEnd {  // a bare date is midnight UTC
            guard scanner.take(" ") || scanner.take("T"),
                let h = scanner.number(minDigits: 2, maxDigits: 2), scanner.take(":"),
                let m = scanner.number(minDigits: 2, maxDigits: 2), scanner.take(":"),
                let s = scanner.number(minDigits: 2, maxDigits: 2)
            else { return nil }
            (hour, minute, second) = (h, m, s)
            if scanner.take(".") {
                guard let (value, digits) = scanner.digits(), (1...18).contains(digits) else {
                    return nil
                }
                // Keep microseconds (truncating); PostgreSQL never prints more than six digits.
                micros = digits <= 6 ? value * power10(6 - digits) : value / power10(digits - 6)
            }
            if scanner.take("Z") {
                offset = 0
            } else if let sign = scanner.takeSign() {
                guard let oh = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
                var om: Int64 = 0
                var os: Int64 = 0
                if scanner.take(":") || scanner.peekDigit {
                    guard let value = scanner.number(minDigits: 2, maxDigits: 2) else { return nil }
                    om = value
                    if scanner.take(":") {
                        guard let value = scanner.number(minDigits: 2, maxDigits: 2) else {
                            return nil
                        }
                        os = value
                    }
                }
                offset = sign * (oh * 3600 + om * 60 + os)
            }
            guard scanner.atEnd else { return nil }
        }

        guard (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 60
        else { return nil }
        let astronomicalYear = isBC ? 1 - year : year
        let days = daysFromCivil(year: astronomicalYear, month: month, day: day)
        // Reject days that do not exist (e.g. 2026-02-30) rather than roll them over.
        guard civil(fromDays: days) == (astronomicalYear, Int(month), Int(day)) else { return nil }
        let seconds = days * secondsPerDay + hour * 3600 + minute * 60 + second - offset
        return Date(
            timeIntervalSince1970: Double(seconds * microsecondsPerSecond + micros) / 1_000_000)
    }

    // MARK: - Calendar arithmetic
    // Howard Hinnant's days_from_civil / civil_from_days, proleptic Gregorian.

    static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400)
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func civil(fromDays days: Int64) -> (year: Int64, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDivide(z, 146_097)
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), Int(month), Int(day))
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> Int64 {
        let q = a / b
        return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
    }

    private static func power10(_ n: Int) -> Int64 {
        var value: Int64 = 1
        for _ in 0..<n { value *= 10 }
        return value
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return digits.count >= width
            ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    private struct Scanner {
        var bytes: [UInt8]
        var index = 0

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        var atEnd: Bool { index == bytes.count }
        var peekDigit: Bool { !atEnd && isDigit(bytes[index]) }

        mutating func take(_ character: Unicode.Scalar) -> Bool {
            guard !atEnd, bytes[index] == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }

        mutating func takeSign() -> Int64? {
            if take("+") { return 1 }
            if take("-") { return -1 }
            return nil
        }

        /// The run of digits at the cursor and how many there were.
        mutating func digits() -> (value: Int64, count: Int)? {
            var value: Int64 = 0
            var count = 0
            while !atEnd, isDigit(bytes[index]) {
                if count < 18 { value = value * 10 + Int64(bytes[index] - UInt8(ascii: "0")) }
                count += 1
                index += 1
            }
            return (value, count)
        }

        mutating func number(minDigits: Int, maxDigits: Int) -> Int64? {
            guard let (value, count) = digits(), count >= minDigits, count <= maxDigits else {
                return nil
            }
            return value
        }

        private func isDigit(_ c: UInt8) -> Bool {
            c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")
        }
    }
}
