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
}
