import Foundation
import Testing
@testable import TencentChat

/// TLS towards the upstream through `CurlTransport`, against the same HTTPS
/// stand-in and throwaway CAs as `URLSessionTLSTests`. Here the CA file belongs
/// to the transport, so two transports in one process may trust different CAs.
@Suite(.serialized, .enabled(if: CurlTransport.isAvailable, "libcurl 7.85 or newer is not loadable here"))
struct CurlTLSTests {
    /// Even with URLSession's process-wide CA file in effect (the hook in
    /// CCurlCAFile sees every libcurl handle, these included), set here as
    /// `URLSessionTLSTests` sets it, so the order of the suites does not matter.
    @Test func eachTransportTrustsItsOwnCAFile() async throws {
        let pki = try TestPKI.shared.get()
        _ = try URLSessionTransport(caFile: pki.trustedCA)
        let trusting = try CurlTransport(caFile: pki.trustedCA)
        let trustingTheOther = try CurlTransport(caFile: pki.untrustedCA)
        try await TLSUpstream.with(pki.trustedServer) { port in
            let (status, body) = try await trusting.post(url: TLSUpstream.url(port), body: Data("{}".utf8), timeout: .seconds(5))
            #expect(status == 200)
            #expect(String(decoding: body, as: UTF8.self) == URLSessionTLSTests.okBody)
            try await TLSUpstream.expectTLSFailure { try await trustingTheOther.post(url: TLSUpstream.url(port), body: Data("{}".utf8), timeout: .seconds(5)) }
        }
        try await TLSUpstream.with(pki.untrustedServer) { port in
            let (status, _) = try await trustingTheOther.post(url: TLSUpstream.url(port), body: Data("{}".utf8), timeout: .seconds(5))
            #expect(status == 200)
            try await TLSUpstream.expectTLSFailure { try await trusting.post(url: TLSUpstream.url(port), body: Data("{}".utf8), timeout: .seconds(5)) }
        }
    }

    @Test func aCertificateForAnotherHostIsRefused() async throws {
        let pki = try TestPKI.shared.get()
        let transport = try CurlTransport(caFile: pki.trustedCA)
        try await TLSUpstream.with(pki.wrongHostServer) { port in
            try await TLSUpstream.expectTLSFailure { try await transport.post(url: TLSUpstream.url(port), body: Data("{}".utf8), timeout: .seconds(5)) }
        }
    }

    /// Without a CA file, the system trust store: a throwaway CA is not in it.
    @Test func withoutACAFileAThrowawayCAIsRefused() async throws {
        let pki = try TestPKI.shared.get()
        let transport = try CurlTransport()
        try await TLSUpstream.with(pki.trustedServer) { port in
            try await TLSUpstream.expectTLSFailure { try await transport.post(url: TLSUpstream.url(port), body: Data("{}".utf8), timeout: .seconds(5)) }
        }
    }

    @Test func unusableCAFilesAreRefused() throws {
        let pki = try TestPKI.shared.get()
        #expect(throws: URLSessionTransport.CAFileError.insecureValueRefused) {
            _ = try CurlTransport(caFile: "INSECURE_SSL_NO_VERIFY")
        }
        let key = pki.directory.appendingPathComponent("trusted-ca.key").path
        #expect(throws: URLSessionTransport.CAFileError.notACertificateFile(key)) {
            _ = try CurlTransport(caFile: key)
        }
    }
}
