import CZlib
import Crypto
import Foundation

/// The sandbox's own UserSig (v2, HMAC-SHA256) verifier, written from
/// TENCENT.md and apart from TencentChat's `UserSig`: if both shared one
/// implementation, a bug in it would sign and verify alike and no test
/// would notice. It is deliberately strict where the gateway's signer has
/// no reason to differ from Tencent's generator:
///
/// - only Tencent's alphabet (`A–Z a–z 0–9 * - _`), padding kept as `_`;
/// - the payload is one complete zlib stream (RFC 1950) and nothing after it;
/// - `TLS.sdkappid`, `TLS.time` and `TLS.expire` are JSON integers, not strings;
/// - `TLS.sig` must equal the standard Base64 (`+ / =`) of the recomputed HMAC.
///
/// `TLS.userbuf` is not supported: the signed text is always TENCENT.md step 1,
/// so such a signature fails the HMAC (70009).
enum SandboxUserSig {
    /// Refuse to inflate past this: a UserSig's JSON is a few hundred bytes.
    static let maxJSONBytes = 16 * 1024

    /// The claims as Tencent writes them; unknown keys are ignored.
    private struct Claims: Decodable {
        var version, identifier, sig: String
        var sdkAppID, time, expire: Int

        enum CodingKeys: String, CodingKey {
            case version = "TLS.ver", identifier = "TLS.identifier", sdkAppID = "TLS.sdkappid"
            case time = "TLS.time", expire = "TLS.expire", sig = "TLS.sig"
        }
    }

    /// Checks in Tencent's order: decode (70003), identifier (70013),
    /// sdkappid (70014), expiry `now > time + expire` (70001), HMAC (70009).
    static func verify(
        _ userSig: String, identifier: String, sdkAppID: Int, secretKey: String, now: Date
    ) throws(SandboxFailure) {
        let undecodable = SandboxFailure(70003, "UserSig could not be parsed")
        guard let compressed = base64Decode(userSig),
              let json = inflate(compressed),
              let claims = try? JSONDecoder().decode(Claims.self, from: json),
              claims.version == "2.0"
        else { throw undecodable }

        // Bytes, not String ==, which would equate canonically equivalent spellings.
        guard Array(claims.identifier.utf8) == Array(identifier.utf8) else {
            throw SandboxFailure(70013, "identifier in the URL differs from the one in the UserSig")
        }
        guard claims.sdkAppID == sdkAppID else {
            throw SandboxFailure(70014, "sdkappid in the URL differs from the one in the UserSig")
        }
        // Claims are untrusted: an overflowing sum is nonsense, not "never expires".
        let (expiresAt, overflow) = claims.time.addingReportingOverflow(claims.expire)
        guard !overflow else { throw undecodable }
        let nowSeconds = Int(now.timeIntervalSince1970.rounded(.down))
        guard nowSeconds <= expiresAt else { throw SandboxFailure(70001, "UserSig expired; generate a new one") }

        let content = "TLS.identifier:\(claims.identifier)\nTLS.sdkappid:\(claims.sdkAppID)\n"
            + "TLS.time:\(claims.time)\nTLS.expire:\(claims.expire)\n"
        let mac = HMAC<SHA256>.authenticationCode(for: Array(content.utf8), using: SymmetricKey(data: Array(secretKey.utf8)))
        let expected = Data(mac).base64EncodedString()
        guard constantTimeEqual(Array(expected.utf8), Array(claims.sig.utf8)) else {
            throw SandboxFailure(70009, "UserSig verification failed; check the secret key")
        }
    }

    /// Tencent's Base64: standard Base64 with `+`→`*`, `/`→`-`, `=`→`_`.
    /// Nil for any character outside that alphabet (a signer that forgot to
    /// map `+ / =` is caught here) or a length that is not a multiple of 4.
    static func base64Decode(_ string: String) -> Data? {
        var standard: [UInt8] = []
        standard.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
                standard.append(byte)
            case UInt8(ascii: "*"): standard.append(UInt8(ascii: "+"))
            case UInt8(ascii: "-"): standard.append(UInt8(ascii: "/"))
            case UInt8(ascii: "_"): standard.append(UInt8(ascii: "="))
            default: return nil
            }
        }
        guard !standard.isEmpty, standard.count % 4 == 0 else { return nil }
        return Data(base64Encoded: Data(standard))
    }

    /// One complete zlib stream, inflated in steps with `inflate`; nil when
    /// the stream is corrupt, truncated, followed by other bytes, or too large.
    static func inflate(_ input: Data) -> Data? {
        var stream = z_stream()
        guard inflateInit_(&stream, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else { return nil }
        defer { inflateEnd(&stream) }

        var source = [UInt8](input)
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1024)
        var status = Z_OK
        source.withUnsafeMutableBufferPointer { source in
            stream.next_in = source.baseAddress
            stream.avail_in = uInt(source.count)
            while status == Z_OK, output.count <= maxJSONBytes {
                chunk.withUnsafeMutableBufferPointer { chunk in
                    stream.next_out = chunk.baseAddress
                    stream.avail_out = uInt(chunk.count)
                    status = CZlib.inflate(&stream, Z_NO_FLUSH)
                    output.append(contentsOf: chunk.prefix(chunk.count - Int(stream.avail_out)))
                }
            }
        }
        guard status == Z_STREAM_END, stream.avail_in == 0, output.count <= maxJSONBytes else { return nil }
        return Data(output)
    }

    /// Time depends only on the lengths, never on where the bytes first differ.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
