import Foundation
import Testing
@testable import Gateway

@Suite struct RequestContextTests {
    @Test func keepsSaneRequestIDs() {
        #expect(RequestContext.requestID(from: "abc-123_x.y:z") == "abc-123_x.y:z")
    }

    @Test(arguments: [nil, "", "has space", "quote\"", String(repeating: "a", count: 129), "ünïcode", "new\nline"])
    func replacesOthers(_ header: String?) {
        let id = RequestContext.requestID(from: header)
        #expect(id != header)
        #expect(id.count == 36)
    }

    /// A version-4 UUID in lower case, parsed back by Foundation, and a new one each time.
    @Test func newIDsAreRandomUUIDs() throws {
        var seen = Set<String>()
        for _ in 0..<1_000 {
            let id = RequestContext.newRequestID()
            let uuid = try #require(UUID(uuidString: id))
            #expect(uuid.uuidString.lowercased() == id)
            let bytes = uuid.uuid
            #expect(bytes.6 >> 4 == 4)  // version
            #expect(bytes.8 >> 6 == 0b10)  // variant
            seen.insert(id)
        }
        #expect(seen.count == 1_000)
    }
}
