import Foundation
import Hummingbird

/// `HummingbirdPeer [PORT]`: GET /healthz answers `{"status":"ok"}` as JSON, as the gateway does.
@main
struct HummingbirdPeer {
    static func main() async throws {
        let port = CommandLine.arguments.dropFirst().first.flatMap(Int.init) ?? 9191
        let router = Router()
        router.get("healthz") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "application/json; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: port)))
        try await app.runService()
    }
}
