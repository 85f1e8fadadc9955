import Foundation
import Testing
@testable import TencentChat

/// Tencent's official TLSSigAPIv2 output (testdata/usersig-vectors.json).
struct Vector: Sendable, CustomTestStringConvertible {
    var sdkappid: Int
    var key: String
    var identifier: String
    var time: Int
    var expire: Int
    var tlsSig: String
    var usersig: String

    var testDescription: String { "\(identifier)@\(sdkappid)" }

    static let all: [Vector] = [
        Vector(
            sdkappid: 1_400_000_000, key: "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e",
            identifier: "xiaojun", time: 1_700_000_000, expire: 86400,
            tlsSig: "SNF4FmVCPucoXsBOpbVF3fFCf57JPm0ezZ1jeVILlVc=",
            usersig: "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkKjIT87NK82CSxSnZiQUFmSlAKUMTAyiAyqVWFGQWpQJlLMxM4IIlmbkgIUNzNMXFmekg44P93EzccsOcA0qT8yOKnfwLksLcjNPcnNNMzb0Ccg1Sq6IMs1LDPH1ywpJtlWoBk68y0A__"),
        Vector(
            sdkappid: 1_400_000_000, key: "5bd2850fff3ecb11d7c805251c51ee463a25727bddc2385f3fa8bfee1bb93b5e",
            identifier: "administrator", time: 1_764_000_000, expire: 15_552_000,
            tlsSig: "LqMOX0DhLQleF0dr/vqaQ26PgG5KfOQB8UGrZMcOfwM=",
            usersig: "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkElNyM-Myi0uKEkvyi2BKilOyEwsKMlOACgxNDKAAKpdaUZBZlAqSMTU1NUKIl2TmgkXNzUxQ1BdnpoPs8Sn09Y8wcMnwCcxJdTNIKdIvK0wMNDILSHc39U7zD3SyCHUvivJN9k8r97VVqgUAw9Q1tw__"),
        Vector(
            sdkappid: 1_600_012_345, key: "c0ffee-not-a-real-key-0123456789abcdef",
            identifier: "admin_01", time: 1_800_000_000, expire: 3600,
            tlsSig: "ai2x/qPPJqzhIHsZapZIAkNcztMpUbjyMJK1nZLF5Mk=",
            usersig: "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIkElNyM-PiDQxhssUp2YkFBZkpQDlDMwMDA0MjYxNTqFxqRUFmUSpQxhgoAxUrycwFiRhaGEABzJzMdLDxmUYV*oUBAV6FVRmeHsVRiQVRno7ZfslVJb4FoUlZlb5e3oZ5UT5upr7Ztkq1AHz7M1c_"),
    ]

    var issuedAt: Date { Date(timeIntervalSince1970: TimeInterval(time)) }
}

@Suite struct UserSigTests {
    @Test(arguments: Vector.all)
    func tlsSigMatchesOfficialVector(_ vector: Vector) {
        let sig = UserSig.tlsSig(
            identifier: vector.identifier, sdkAppID: vector.sdkappid, time: vector.time,
            expire: vector.expire, secretKey: vector.key)
        #expect(sig == vector.tlsSig)
    }

    @Test(arguments: Vector.all)
    func officialUserSigDecodesAndVerifies(_ vector: Vector) throws {
        let claims = try UserSig.verify(
            vector.usersig, identifier: vector.identifier, sdkAppID: vector.sdkappid,
            secretKey: vector.key, now: vector.issuedAt)
        #expect(claims == UserSig(
            identifier: vector.identifier, sdkAppID: vector.sdkappid,
            time: vector.time, expire: vector.expire, sig: vector.tlsSig))
    }

    @Test(arguments: Vector.all)
    func generatedUserSigEqualsOfficialString(_ vector: Vector) {
        // Same JSON layout and zlib level as the official generator, so even the string matches.
        let generated = UserSig.generate(
            identifier: vector.identifier, sdkAppID: vector.sdkappid, secretKey: vector.key,
            expire: vector.expire, now: vector.issuedAt)
        #expect(generated == vector.usersig)
    }

    @Test func roundTrip() throws {
        let now = Date(timeIntervalSince1970: 1_750_000_000.9)
        let sig = UserSig.generate(identifier: "user-1_ä", sdkAppID: 1_400_000_001, secretKey: "k", expire: 600, now: now)
        #expect(sig.allSatisfy { $0.isLetter || $0.isNumber || "*-_".contains($0) })
        let claims = try UserSig.verify(sig, identifier: "user-1_ä", sdkAppID: 1_400_000_001, secretKey: "k", now: now)
        #expect(claims.time == 1_750_000_000)
        #expect(claims.expire == 600)
        #expect(claims.identifier == "user-1_ä")
    }

    @Test func identifierWithJSONSpecialCharactersRoundTrips() throws {
        let identifier = "a\"b\\c\nd/e"
        let sig = UserSig.generate(identifier: identifier, sdkAppID: 1, secretKey: "k", now: Date())
        #expect(try UserSig.decode(sig).identifier == identifier)
    }

    @Test func wrongIdentifier() {
        let vector = Vector.all[0]
        #expect(throws: UserSigError.wrongIdentifier) {
            try UserSig.verify(vector.usersig, identifier: "someone", sdkAppID: vector.sdkappid, secretKey: vector.key, now: vector.issuedAt)
        }
    }

    @Test func wrongSDKAppID() {
        let vector = Vector.all[0]
        #expect(throws: UserSigError.wrongSDKAppID) {
            try UserSig.verify(vector.usersig, identifier: vector.identifier, sdkAppID: 1_400_000_001, secretKey: vector.key, now: vector.issuedAt)
        }
    }

    @Test func wrongKey() {
        let vector = Vector.all[0]
        #expect(throws: UserSigError.badSignature) {
            try UserSig.verify(vector.usersig, identifier: vector.identifier, sdkAppID: vector.sdkappid, secretKey: "another-key", now: vector.issuedAt)
        }
    }

    @Test func tamperedClaimsFailTheHMAC() throws {
        // Extend the validity without re-signing.
        let vector = Vector.all[0]
        var claims = try UserSig.decode(vector.usersig)
        claims.expire = 10 * 365 * 86400
        #expect(throws: UserSigError.badSignature) {
            try UserSig.verify(claims.encoded(), identifier: vector.identifier, sdkAppID: vector.sdkappid, secretKey: vector.key, now: vector.issuedAt)
        }
    }

    @Test func expiryBoundary() throws {
        let vector = Vector.all[2]
        let end = vector.issuedAt.addingTimeInterval(TimeInterval(vector.expire))
        // now == time + expire is still valid; one second later it is not.
        try UserSig.verify(vector.usersig, identifier: vector.identifier, sdkAppID: vector.sdkappid, secretKey: vector.key, now: end)
        try UserSig.verify(vector.usersig, identifier: vector.identifier, sdkAppID: vector.sdkappid, secretKey: vector.key, now: end.addingTimeInterval(0.999))
        #expect(throws: UserSigError.expired) {
            try UserSig.verify(vector.usersig, identifier: vector.identifier, sdkAppID: vector.sdkappid, secretKey: vector.key, now: end.addingTimeInterval(1))
        }
    }

    @Test(arguments: [
        "",
        "not base64 at all!",
        "aGVsbG8_",  // base64 of "hello": not zlib
        "eJyrVgrxCdYrSy1SslJQMtIzUNJRAItkpqTmlWSmZUIk",  // truncated stream
    ])
    func malformed(_ text: String) {
        #expect {
            try UserSig.decode(text)
        } throws: { error in
            if case .malformed = error as? UserSigError { true } else { false }
        }
    }

    @Test func malformedJSONShapes() {
        let shapes = [
            "[1,2,3]",
            #"{"TLS.ver": "1.0", "TLS.identifier": "a", "TLS.sdkappid": 1, "TLS.expire": 1, "TLS.time": 1, "TLS.sig": "AA=="}"#,
            #"{"TLS.ver": "2.0", "TLS.sdkappid": 1, "TLS.expire": 1, "TLS.time": 1, "TLS.sig": "AA=="}"#,
            #"{"TLS.ver": "2.0", "TLS.identifier": "a", "TLS.sdkappid": "x", "TLS.expire": 1, "TLS.time": 1, "TLS.sig": "AA=="}"#,
        ]
        for json in shapes {
            let text = TencentBase64.encode(Zlib.compress(Data(json.utf8)))
            #expect {
                try UserSig.decode(text)
            } throws: { error in
                if case .malformed = error as? UserSigError { true } else { false }
            }
        }
    }

    @Test func hostileNumbersDoNotTrap() throws {
        let json = #"{"TLS.ver": "2.0", "TLS.identifier": "a", "TLS.sdkappid": 1, "TLS.expire": 9000000000000000000, "TLS.time": 9000000000000000000, "TLS.sig": "AA=="}"#
        let text = TencentBase64.encode(Zlib.compress(Data(json.utf8)))
        #expect(throws: UserSigError.badSignature) {
            try UserSig.verify(text, identifier: "a", sdkAppID: 1, secretKey: "k", now: Date())
        }
    }

    @Test func identifierIsComparedByteForByte() {
        let composed = "caf\u{E9}", decomposed = "cafe\u{301}"
        let sig = UserSig.generate(identifier: composed, sdkAppID: 1, secretKey: "k")
        #expect(throws: UserSigError.wrongIdentifier) {
            try UserSig.verify(sig, identifier: decomposed, sdkAppID: 1, secretKey: "k")
        }
    }

    @Test func base64VariantAndUnpaddedInput() throws {
        #expect(TencentBase64.encode(Data([0xFB, 0xFF])) == "*-8_")
        #expect(TencentBase64.decode("*-8_") == Data([0xFB, 0xFF]))
        #expect(TencentBase64.decode("*-8") == Data([0xFB, 0xFF]))
        let vector = Vector.all[0]
        var unpadded = vector.usersig
        while unpadded.hasSuffix("_") { unpadded.removeLast() }
        #expect(unpadded.count < vector.usersig.count)
        #expect(try UserSig.decode(unpadded).identifier == vector.identifier)
    }

    @Test func descriptionsNeverShowTheSignature() throws {
        let vector = Vector.all[1]
        let claims = try UserSig.decode(vector.usersig)
        #expect(!claims.description.contains(vector.tlsSig))
        #expect(!"\(UserSigError.badSignature)".contains(vector.usersig))
    }

    /// Identifiers that need JSON escaping survive the encoded form unchanged.
    @Test(arguments: ["quote\"d", "back\\slash", "new\nline", "tab\there", "ctl\u{01}", "slash/ok", "ünïcödé"])
    func awkwardIdentifiersRoundTrip(_ identifier: String) throws {
        let sig = UserSig.generate(identifier: identifier, sdkAppID: 1_400_000_000, secretKey: "k", expire: 3600,
                                   now: Date(timeIntervalSince1970: 1_700_000_000))
        #expect(try UserSig.decode(sig).identifier == identifier)
        try UserSig.verify(sig, identifier: identifier, sdkAppID: 1_400_000_000, secretKey: "k",
                           now: Date(timeIntervalSince1970: 1_700_000_100))
    }
}
