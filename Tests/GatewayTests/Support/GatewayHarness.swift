import Foundation
import HTTPServer
import Logging
import PostgresClient
import TencentChat
import TencentSandbox
@testable import Gateway
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// The real thing, in process: a fresh migrated database, the sandbox and the
/// gateway each on a real socket (port 0), wired through the real Tencent client.
final class GatewayHarness: Sendable {
    let database: TestDatabase
    /// The owner's connections, for setting up and inspecting; the application
    /// runs as the service role (`servicePool`), as in production.
    let pool: PostgresPool
    let servicePool: PostgresPool
    let sandbox: SandboxService
    let sandboxServer: HTTPServer
    let gatewayServer: HTTPServer
    let app: GatewayApplication
    /// The gateway's Tencent client (its signature can be rotated).
    let client: TencentClient
    let baseURL: String
    let sandboxURL: String
    let importerToken: String
    let auditorToken: String

    struct Options {
        var idStrategy: IDStrategy = .verbatim
        /// Long, so a slow machine never turns an expected 201 into a 202; outcomes
        /// return as soon as they are known, and outage tests set a short wait.
        var waitMilliseconds = 30_000
        var accountQuota: Int? = nil
        /// account_import calls per second, for the gateway's limit and the sandbox's alike.
        var importRate = 200
        /// multiaccount_import calls per second, for the gateway's limit and the sandbox's alike.
        var batchRate = 100
        /// Off by default so a revocation shows at once.
        var authCacheDuration: Duration? = nil
        /// Wraps the real upstream, e.g. to inject outages.
        var upstream: @Sendable (AccountUpstream) -> AccountUpstream = { $0 }
        /// The gateway's secret key when it should differ from the sandbox's (a wrong key).
        var gatewaySecretKey: String? = nil
        var maxUnexplainedAttempts = 5
    }

    static let sdkAppID = 1_400_000_000
    static let secretKey = "test-secret-" + UUID().uuidString

    private init(database: TestDatabase, pool: PostgresPool, servicePool: PostgresPool, sandbox: SandboxService, sandboxServer: HTTPServer,
                 gatewayServer: HTTPServer, app: GatewayApplication, client: TencentClient, baseURL: String, sandboxURL: String,
                 importerToken: String, auditorToken: String) {
        self.client = client
        self.database = database
        self.pool = pool
        self.servicePool = servicePool
        self.sandbox = sandbox
        self.sandboxServer = sandboxServer
        self.gatewayServer = gatewayServer
        self.app = app
        self.baseURL = baseURL
        self.sandboxURL = sandboxURL
        self.importerToken = importerToken
        self.auditorToken = auditorToken
    }

    static func with<T>(_ options: Options = Options(), _ body: (GatewayHarness) async throws -> T) async throws -> T {
        let harness = try await start(options)
        do {
            let result = try await body(harness)
            await harness.stop()
            return result
        } catch {
            await harness.stop()
            throw error
        }
    }

    static func start(_ options: Options) async throws -> GatewayHarness {
        let logger = TestLogger.make()
        let database = try await TestDatabase.create()
        let pool = database.pool()
        try await database.grantServiceRole()
        let servicePool = try database.servicePool()

        var sandboxConfiguration = SandboxConfiguration(sdkAppID: sdkAppID, secretKey: secretKey)
        sandboxConfiguration.accountQuota = options.accountQuota
        sandboxConfiguration.rates[.accountImport] = options.importRate
        sandboxConfiguration.rates[.multiaccountImport] = options.batchRate
        let sandbox = SandboxService(configuration: sandboxConfiguration, logger: logger)
        let sandboxServer = HTTPServer(configuration: HTTPServer.Configuration(address: ListenAddress(host: "127.0.0.1", port: 0)),
                                       logger: logger, handler: sandbox.handler)
        let sandboxPort = try await sandboxServer.start()
        let sandboxURL = "http://127.0.0.1:\(sandboxPort)"

        var configuration = try GatewayConfiguration(environment: [
            "DATABASE_URL": database.url, "TENCENT_SDKAPPID": String(sdkAppID), "TENCENT_SECRET_KEY": secretKey,
            "TENCENT_ENDPOINT": sandboxURL, "GATEWAY_ID_STRATEGY": options.idStrategy.rawValue,
            "GATEWAY_WAIT_MS": String(options.waitMilliseconds), "TENCENT_IMPORT_RATE": String(options.importRate),
            "TENCENT_BATCH_RATE": String(options.batchRate),
            "GATEWAY_MAX_UNEXPLAINED_ATTEMPTS": String(options.maxUnexplainedAttempts),
        ])
        configuration.authCacheDuration = options.authCacheDuration
        let client = try tencentClient(sandboxURL, secretKey: options.gatewaySecretKey ?? secretKey)
        let upstream = options.upstream(TencentUpstream(client: client))
        let app = GatewayApplication(configuration: configuration, pool: servicePool, upstream: upstream, logger: logger,
                                     replicaID: "test-replica")
        var serverConfiguration = HTTPServer.Configuration(address: ListenAddress(host: "127.0.0.1", port: 0),
                                                           errorResponder: app.serverErrorResponder)
        serverConfiguration.maxBodyBytes = GatewayApplication.maxBodyBytes
        let gatewayServer = HTTPServer(configuration: serverConfiguration, logger: logger, handler: app.handler)
        let port = try await gatewayServer.start()

        let callers = CallerStore(pool: pool)
        let importer = try await callers.add(name: "test-importer", roles: [.importer])
        let auditor = try await callers.add(name: "test-auditor", roles: [.auditor])
        return GatewayHarness(database: database, pool: pool, servicePool: servicePool, sandbox: sandbox, sandboxServer: sandboxServer,
                              gatewayServer: gatewayServer, app: app, client: client, baseURL: "http://127.0.0.1:\(port)",
                              sandboxURL: sandboxURL, importerToken: importer, auditorToken: auditor)
    }

    /// A real Tencent client for the sandbox, through the transport `serve` uses by default.
    static func tencentClient(_ sandboxURL: String, secretKey: String = secretKey) throws -> TencentClient {
        TencentClient(
            endpoint: try TencentEndpoint(parsing: sandboxURL),
            signature: AdminSignature(sdkAppID: sdkAppID, identifier: "administrator", secretKey: secretKey),
            transport: try UpstreamTransport.preferred.make(), logger: TestLogger.make())
    }

    func tencentClient() throws -> TencentClient {
        try Self.tencentClient(sandboxURL)
    }

    /// Another replica on the same database and sandbox, with a pool of its own
    /// (no HTTP server: its worker is what matters). Close its pool when done.
    func replica(_ name: String) throws -> (app: GatewayApplication, pool: PostgresPool) {
        let pool = try database.servicePool()
        let app = GatewayApplication(configuration: app.configuration, pool: pool, upstream: TencentUpstream(client: try tencentClient()),
                                     logger: TestLogger.make(), replicaID: name)
        return (app, pool)
    }

    /// Polls `GET /accounts/{userID}` until its status is `status` or 10 s pass; the last body.
    func eventually(_ userID: String, becomes status: String) async throws -> [String: Any] {
        var body: [String: Any] = [:]
        for _ in 0..<100 {
            body = try await request("GET", "/accounts/\(userID)", token: importerToken).json
            if body["status"] as? String == status { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        return body
    }

    func stop() async {
        await gatewayServer.stop(gracePeriod: .seconds(2))
        await sandboxServer.stop(gracePeriod: .seconds(1))
        await servicePool.close()
        await pool.close()
        await database.drop()
    }

    struct Response: Sendable {
        var status: Int
        var headers: [String: String]
        var body: Data

        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
        }

        func header(_ name: String) -> String? {
            headers.first { $0.key.lowercased() == name.lowercased() }?.value
        }
    }

    /// One request to the application, without a socket: the bytes go through the
    /// server's own parser, then straight to the handler. Behaviour of the
    /// application is tested here; the server's own is tested over sockets
    /// (`requestOverSocket`, and HTTPServerTests).
    func request(_ method: String, _ path: String, token: String?, json: String? = nil,
                 headers: [String: String] = [:]) async throws -> Response {
        var head = "\(method) \(path) HTTP/1.1\r\nHost: gateway.test\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if json != nil { head += "Content-Type: application/json\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        let body = Array((json ?? "").utf8)
        head += "Content-Length: \(body.count)\r\n\r\n"
        var parser = HTTPRequestParser(limits: HTTPRequestParser.Limits(maxBodyBytes: GatewayApplication.maxBodyBytes))
        parser.append(Array(head.utf8) + body)
        guard let request = try parser.nextRequest() else { throw HarnessError("the request did not parse: \(head)") }
        let response = await app.handler(request)
        var fields: [String: String] = [:]
        for (name, value) in response.headers { fields[name] = value }
        return Response(status: response.status, headers: fields, body: Data(response.body))
    }

    struct HarnessError: Error, CustomStringConvertible {
        var description: String
        init(_ description: String) { self.description = description }
    }

    /// One request over a real socket, through the HTTP server.
    func requestOverSocket(_ method: String, _ path: String, token: String?, json: String? = nil,
                           headers: [String: String] = [:]) async throws -> Response {
        var request = URLRequest(url: URL(string: baseURL + path)!)
        request.httpMethod = method
        if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        if let json {
            request.httpBody = Data(json.utf8)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await URLSession.shared.data(for: request)
        let http = response as! HTTPURLResponse
        var fields: [String: String] = [:]
        for (key, value) in http.allHeaderFields { fields["\(key)"] = "\(value)" }
        return Response(status: http.statusCode, headers: fields, body: data)
    }

    func postAccount(_ json: String, token: String? = nil, headers: [String: String] = [:]) async throws -> Response {
        try await request("POST", "/accounts", token: token ?? importerToken, json: json, headers: headers)
    }

    /// Audit events, oldest first.
    func auditEvents() async throws -> [(action: String, outcome: String, status: Int?, caller: String?, userID: String?)] {
        try await pool.query("SELECT action, outcome, http_status, caller, user_id FROM audit_events ORDER BY id").rows.map {
            (try $0.string("action"), try $0.string("outcome"), try $0.optionalInt("http_status"),
             try $0.optionalString("caller"), try $0.optionalString("user_id"))
        }
    }
}
