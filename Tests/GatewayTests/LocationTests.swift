import Foundation
import Testing
@testable import Gateway

/// `Location: /accounts/{user_id}`: the user id as one path segment.
@Suite struct LocationTests {
    @Test func reservedAndNonASCIIBytesArePercentEncoded() {
        #expect(GatewayApplication.location(of: "alice_01") == "/accounts/alice_01")
        #expect(GatewayApplication.location(of: "a/b c%é?#") == "/accounts/a%2Fb%20c%25%C3%A9%3F%23")
        #expect(GatewayApplication.location(of: "ann@example.com;v=1") == "/accounts/ann@example.com%3Bv=1")
    }

    /// The same bytes as Foundation's `urlPathAllowed` less `/`, which it replaced.
    @Test func agreesWithFoundation() {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove("/")
        let singles = (1...0x7F).map { String(UnicodeScalar(UInt8($0))) }
        let words = ["", "ü", "中文", "👩‍💻", "a b+c", "100%", "x\u{7F}y", "é/é", "\u{FEFF}", "~!$&'()*+,;=:@-._"]
        for segment in singles + words {
            #expect(GatewayApplication.percentEncodePathSegment(segment) == segment.addingPercentEncoding(withAllowedCharacters: allowed),
                    "\(Array(segment.utf8))")
        }
    }
}
