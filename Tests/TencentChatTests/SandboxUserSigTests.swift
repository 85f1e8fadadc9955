import Foundation
import Testing
@testable import TencentChat
@testable import TencentSandbox

/// The sandbox's own UserSig verifier against Tencent's official output and
/// against the gateway's generator: a bug on either side fails here.
@Suite struct SandboxUserSigTests {
    /// The failure code, or 0 when the signature verifies.
    func code(
        _ userSig: String, _ vector: Vector, identifier: String? = nil, sdkAppID: Int? = nil,
        key: String? = nil, now: Date? = nil
    ) -> Int {
        do throws(SandboxFailure) {
            try SandboxUserSig.verify(
                userSig, identifier: identifier ?? vector.identifier, sdkAppID: sdkAppID ?? vector.sdkappid,
                secretKey: key ?? vector.key, now: now ?? vector.issuedAt)
            return 0
        } catch {
            return error.code
        }
    }

    /// A UserSig string around hand-written JSON (zlib and Base64 from TencentChat).
    func token(_ json: String) -> String {
        TencentBase64.encode(Zlib.compress(Data(json.utf8)))
    }

    /// The vector's claims as JSON, with one field's literal replaced.
    func json(_ vector: Vector, replacing field: String? = nil, with literal: String = "") -> String {
        var fields = [
            ("TLS.ver", "\"2.0\""), ("TLS.identifier", "\"\(vector.identifier)\""), ("TLS.sdkappid", "\(vector.sdkappid)"),
            ("TLS.expire", "\(vector.expire)"), ("TLS.time", "\(vector.time)"), ("TLS.sig", "\"\(vector.tlsSig)\""),
        ]
        fields = fields.map { $0.0 == field ? ($0.0, literal) : $0 }
        return "{" + fields.filter { !$0.1.isEmpty }.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    @Test(arguments: Vector.all)
    func officialUserSigVerifies(_ vector: Vector) {
        #expect(code(vector.usersig, vector) == 0)
    }

    @Test(arguments: Vector.all)
    func gatewayGeneratedUserSigVerifies(_ vector: Vector) {
        let generated = UserSig.generate(
            identifier: vector.identifier, sdkAppID: vector.sdkappid, secretKey: vector.key,
            expire: vector.expire, now: vector.issuedAt.addingTimeInterval(0.7))
        #expect(code(generated, vector) == 0)
    }

    @Test(arguments: ["administrator", "ops admin+1", "名字-ä_1", "a\"b\\c/d"])
    func gatewayGeneratedUserSigVerifiesForAnyIdentifier(_ identifier: String) throws {
        let now = Date(timeIntervalSince1970: 1_764_000_000)
        let sig = UserSig.generate(identifier: identifier, sdkAppID: 1_400_000_001, secretKey: "k€y", expire: 600, now: now)
        #expect(throws: Never.self) {
            try SandboxUserSig.verify(sig, identifier: identifier, sdkAppID: 1_400_000_001, secretKey: "k€y", now: now)
        }
    }

    @Test func handWrittenJSONInAnyKeyOrderVerifies() {
        let vector = Vector.all[1]
        #expect(code(token(json(vector)), vector) == 0)
        let reordered = #"{ "TLS.sig" : "\#(vector.tlsSig)", "TLS.time": \#(vector.time), "TLS.expire": \#(vector.expire),"#
            + #" "TLS.sdkappid": \#(vector.sdkappid), "TLS.identifier": "\#(vector.identifier)", "TLS.ver": "2.0" }"#
        #expect(code(token(reordered), vector) == 0)
    }

    @Test func changedHMACByteIs70009() throws {
        let vector = Vector.all[0]
        var mac = try #require(Data(base64Encoded: vector.tlsSig))
        mac[5] ^= 0x01
        #expect(code(token(json(vector, replacing: "TLS.sig", with: "\"\(mac.base64EncodedString())\"")), vector) == 70009)
    }

    @Test func otherKeyIs70009() {
        let vector = Vector.all[0]
        #expect(code(vector.usersig, vector, key: "another-key") == 70009)
        let generated = UserSig.generate(identifier: vector.identifier, sdkAppID: vector.sdkappid, secretKey: "another-key", now: vector.issuedAt)
        #expect(code(generated, vector) == 70009)
    }

    @Test func changedClaimsAre70009() {
        // Validity extended without re-signing.
        let vector = Vector.all[0]
        #expect(code(token(json(vector, replacing: "TLS.expire", with: "315360000")), vector) == 70009)
    }

    @Test func otherIdentifierIs70013AndOtherAppIs70014() {
        let vector = Vector.all[0]
        #expect(code(vector.usersig, vector, identifier: "someone") == 70013)
        #expect(code(vector.usersig, vector, identifier: vector.identifier + " ") == 70013)
        #expect(code(vector.usersig, vector, sdkAppID: vector.sdkappid + 1) == 70014)
    }

    @Test(arguments: Vector.all)
    func expiresAfterTimePlusExpire(_ vector: Vector) {
        let end = vector.issuedAt.addingTimeInterval(TimeInterval(vector.expire))
        #expect(code(vector.usersig, vector, now: end) == 0)
        #expect(code(vector.usersig, vector, now: end.addingTimeInterval(0.999)) == 0)
        #expect(code(vector.usersig, vector, now: end.addingTimeInterval(1)) == 70001)
    }

    @Test func undecodableIs70003() {
        let vector = Vector.all[2]  // its string holds `*`, `-` and `_`
        let standardAlphabet = String(vector.usersig.map { ["*": "+", "-": "/", "_": "="][$0] ?? $0 })
        let cases = [
            "", "garbage", standardAlphabet, String(vector.usersig.dropLast(2)), String(vector.usersig.dropLast(4)),
            token("not json"), token("[1]"), vector.usersig + "AAAA",
            TencentBase64.encode(Data(json(vector).utf8)),  // not compressed
            token(json(vector, replacing: "TLS.ver", with: "\"1.0\"")),
            token(json(vector, replacing: "TLS.ver")),
            token(json(vector, replacing: "TLS.identifier", with: "7")),
            token(json(vector, replacing: "TLS.sdkappid", with: "\"\(vector.sdkappid)\"")),
            token(json(vector, replacing: "TLS.time", with: "\(vector.time).5")),
            token(json(vector, replacing: "TLS.expire")),
            token(json(vector, replacing: "TLS.sig", with: "null")),
            token(json(vector, replacing: "TLS.expire", with: "\(Int.max)")),
        ]
        for (index, userSig) in cases.enumerated() {
            #expect(code(userSig, vector) == 70003, "case \(index)")
        }
    }

    @Test func tlsSigMustBeStandardBase64() {
        // The right HMAC in the URL-safe alphabet is not what Tencent's generator writes.
        let vector = Vector.all[2]  // its TLS.sig holds `/`
        let urlSafe = vector.tlsSig.replacingOccurrences(of: "/", with: "_")
        #expect(code(token(json(vector, replacing: "TLS.sig", with: "\"\(urlSafe)\"")), vector) == 70009)
    }

    @Test func constantTimeEqual() {
        #expect(SandboxUserSig.constantTimeEqual([1, 2, 3], [1, 2, 3]))
        #expect(!SandboxUserSig.constantTimeEqual([1, 2, 3], [1, 2, 4]))
        #expect(!SandboxUserSig.constantTimeEqual([1, 2, 3], [1, 2]))
        #expect(SandboxUserSig.constantTimeEqual([], []))
    }
}
