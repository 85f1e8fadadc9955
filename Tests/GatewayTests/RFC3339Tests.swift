import Foundation
import Testing
@testable import Gateway

@Suite struct RFC3339Tests {
    @Test func acceptsEveryDateTimeOfSection5_6() {
        let instant = Date(timeIntervalSince1970: 1_796_390_427)  // 2026-12-04T13:20:27Z
        for text in ["2026-12-04T13:20:27Z", "2026-12-04t13:20:27z", "2026-12-04T21:20:27+08:00",
                     "2026-12-04t13:20:27.000Z", "2026-12-04T05:20:27-08:00"] {
            #expect(RFC3339.parse(text) == instant, "\(text)")
        }
        // RFC 3339 §5.6: "T" and "Z" may be lowercase. Foundation's parser refused them.
        #expect(RFC3339.parse("2026-12-04t13:20:27.5z") == instant.addingTimeInterval(0.5))
        #expect(RFC3339.parse("2028-02-29T00:00:00Z") != nil, "a leap year's February 29th")
        #expect(RFC3339.parse("2026-12-31T23:59:60Z") != nil, "a leap second")
    }

    @Test func refusesWhatIsNotADateTime() {
        for text in ["2026-12-04", "2026-12-04 13:20:27Z", "2026-12-04T13:20:27", "2026-12-04T13:20:27Zjunk",
                     "yesterday", "",
                     // Found from outside: Foundation rolled these over into another time.
                     "2026-02-30T00:00:00Z", "2026-02-29T00:00:00Z", "2026-12-04T25:00:00Z", "2026-12-04T24:00:00Z",
                     "2026-12-04T14:61:00Z", "2026-12-04T14:00:61Z", "2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z",
                     "2026-12-00T00:00:00Z", "2026-12-04T14:00:00+24:00", "2026-12-04T14:00:00+08:60"] {
            #expect(RFC3339.parse(text) == nil, "\(text)")
        }
    }
}
