import Foundation
import Testing
import TencentChat

@Suite struct TencentEndpointTests {
    @Test(arguments: [
        ("china", "https://console.tim.qq.com"),
        ("singapore", "https://adminapisgp.im.qcloud.com"),
        ("seoul", "https://adminapikr.im.qcloud.com"),
        ("tokyo", "https://adminapijpn.im.qcloud.com"),
        ("frankfurt", "https://adminapiger.im.qcloud.com"),
        ("mumbai", "https://adminapiind.im.qcloud.com"),
        ("silicon-valley", "https://adminapiusa.im.qcloud.com"),
        ("jakarta", "https://adminapiidn.im.qcloud.com"),
        (" Tokyo ", "https://adminapijpn.im.qcloud.com"),
    ])
    func regions(_ name: String, _ base: String) throws {
        let endpoint = try TencentEndpoint(parsing: name)
        #expect(endpoint.baseURL.absoluteString == base)
        #expect(endpoint.region == name.trimmingCharacters(in: .whitespaces).lowercased())
    }

    @Test(arguments: [
        ("http://127.0.0.1:9090", "http://127.0.0.1:9090"),
        ("http://127.0.0.1:9090/", "http://127.0.0.1:9090"),
        ("https://proxy.internal/tencent/", "https://proxy.internal/tencent"),
        ("HTTP://localhost:8080/a/b", "http://localhost:8080/a/b"),
        ("http://[::1]:9090/", "http://[::1]:9090"),
    ])
    func baseURLs(_ text: String, _ base: String) throws {
        let endpoint = try TencentEndpoint(parsing: text)
        #expect(endpoint.baseURL.absoluteString == base)
        #expect(endpoint.region == nil)
    }

    @Test func errors() {
        #expect(throws: TencentEndpointError.unknownRegion("moon")) { try TencentEndpoint(parsing: "moon") }
        #expect(throws: TencentEndpointError.unknownRegion("")) { try TencentEndpoint(parsing: "") }
        for bad in ["ftp://host", "http://", "http://u:p@host", "http://host/?x=1", "http://host/#frag"] {
            #expect(throws: TencentEndpointError.invalidURL(bad)) { try TencentEndpoint(parsing: bad) }
        }
        #expect("\(TencentEndpointError.unknownRegion("moon"))".contains("silicon-valley"))
    }

    @Test func urlShape() throws {
        let endpoint = try TencentEndpoint(parsing: "http://127.0.0.1:9090/prefix")
        let url = endpoint.url(
            service: "im_open_login_svc", command: "account_import", sdkAppID: 1_400_000_000,
            identifier: "administrator", userSig: "eJy*ab-cd_", random: 4_294_967_295)
        #expect(url.absoluteString == "http://127.0.0.1:9090/prefix/v4/im_open_login_svc/account_import"
            + "?sdkappid=1400000000&identifier=administrator&usersig=eJy*ab-cd_&random=4294967295&contenttype=json")
    }

    @Test func valuesArePercentEncoded() throws {
        let endpoint = try TencentEndpoint(parsing: "china")
        let url = endpoint.url(
            service: "im_open_login_svc", command: "account_check", sdkAppID: 1,
            identifier: "a b&c=d+e/ä", userSig: "x", random: 0)
        #expect(url.absoluteString.contains("identifier=a%20b%26c%3Dd%2Be%2F%C3%A4&"))
        let items = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems ?? []
        #expect(items.first { $0.name == "identifier" }?.value == "a b&c=d+e/ä")
    }

    @Test func freshRandomPerCall() throws {
        let endpoint = try TencentEndpoint(parsing: "china")
        let randoms = (0..<20).map { _ in
            let url = endpoint.url(service: "s", command: "c", sdkAppID: 1, identifier: "a", userSig: "x")
            let value = URLComponents(url: url, resolvingAgainstBaseURL: false)?.queryItems?.first { $0.name == "random" }?.value
            return UInt32(value ?? "")
        }
        #expect(randoms.allSatisfy { $0 != nil })
        #expect(Set(randoms).count > 1)
    }

    @Test func redactionHidesTheUserSig() throws {
        let endpoint = try TencentEndpoint(parsing: "china")
        let sig = UserSig.generate(identifier: "administrator", sdkAppID: 1_400_000_000, secretKey: "secret")
        let url = endpoint.url(service: "im_open_login_svc", command: "account_import", sdkAppID: 1_400_000_000, identifier: "administrator", userSig: sig)
        let redacted = TencentEndpoint.redacted(url)
        #expect(!redacted.contains(sig))
        #expect(!redacted.contains("eJy"))
        #expect(redacted.contains("usersig=REDACTED"))
        #expect(redacted.contains("identifier=administrator"))
        #expect(!endpoint.description.contains("usersig"))
    }
}
