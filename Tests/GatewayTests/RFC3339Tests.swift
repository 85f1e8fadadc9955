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
    }

    @Test func refusesWhatIsNotADateTime() {
        for text in ["2026-12-04", "2026-12-04 13:20:27Z", "2026-12-04T13:20:27", "2026-12-04T13:20:27Zjunk",
                     "yesterday", ""] {
            #expect(RFC3339.parse(text) == nil, "\(text)")
        }
    }
}
