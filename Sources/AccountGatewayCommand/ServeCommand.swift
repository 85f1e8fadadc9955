import ArgumentParser
import Foundation
import Gateway
import HTTPServer
import Logging
import PostgresClient
import ServiceLifecycle
import TencentChat

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Runs the HTTP service.")

    @OptionGroup var options: ConfigurationOptions

    @Option(name: .customLong("listen"), help: "Overrides GATEWAY_LISTEN (address:port; :0 picks a free port).")
    var listen: String?

    @Option(name: .customLong("pool-size"), help: "PostgreSQL connections in this replica's pool.")
    var poolSize: Int = 8

    @Option(name: .customLong("shutdown-grace"), help: "Seconds to let in-flight requests finish on SIGTERM.")
    var shutdownGrace: Int = 10

    @Option(name: .customLong("event-loops"), help: "HTTP event loop threads, each serving its share of connections (default: half the processors, at least 1).")
    var eventLoops: Int?

    func run() async throws {
        var overrides: [String: String] = [:]
        if let listen { overrides["GATEWAY_LISTEN"] = listen }
        let configuration = try options.load(requireTencent: true, overrides: overrides)
        let logger = Logger(label: "account-gateway")

        let address: ListenAddress
        do { address = try ListenAddress(parsing: configuration.listen) } catch { throw ValidationError("\(error)") }
        let client = try configuration.tencentClient(logger: logger)
        let pool = configuration.pool("serve", size: poolSize, statementTimeout: .seconds(15), logger: logger)
        let limiterPool = configuration.pool("limiter", size: 2, statementTimeout: .seconds(5), logger: logger)
        let app = GatewayApplication(configuration: configuration, pool: pool, upstream: TencentUpstream(client: client), logger: logger,
                                     limiterPool: limiterPool)

        var serverConfiguration = HTTPServer.Configuration(address: address, errorResponder: app.serverErrorResponder)
        serverConfiguration.maxBodyBytes = GatewayApplication.maxBodyBytes
        if let eventLoops {
            guard eventLoops >= 1 else { throw ValidationError("--event-loops must be at least 1") }
            serverConfiguration.eventLoops = eventLoops
        }
        let server = HTTPServer(configuration: serverConfiguration, logger: logger, handler: app.handler)
        let port = try await server.start()
        logger.info("listening", metadata: [
            "http.address": "\(address.host):\(port)", "tencent.endpoint": "\(client.endpoint)",
            "tencent.sdkappid": "\(configuration.sdkAppID)", "gateway.id_strategy": "\(configuration.idStrategy.rawValue)",
        ])

        // Started in this order; on SIGTERM or SIGINT shut down gracefully in the
        // reverse one: the server stops taking connections and finishes what is in
        // flight, then the key watcher and the worker and maintenance stop.
        var services: [any Service] = [CancelledOnShutdown(name: "worker and maintenance") { await app.runBackgroundTasks() }]
        if let path = configuration.secretKeyFile {
            let reloader = SecretKeyReloader(path: path, signature: client.signature, application: app, logger: logger)
            services.append(CancelledOnShutdown(name: "key file watcher") { await reloader.run() })
        }
        services.append(HTTPServerService(server: server, gracePeriod: .seconds(shutdownGrace), logger: logger))
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()

        // Deliveries under way finish, then this replica's leases go back.
        await app.drain(timeout: .seconds(shutdownGrace))
        await pool.close()
        await limiterPool.close()
        logger.info("stopped")
    }
}

/// The HTTP server as a service: it serves (it was started before the group, so
/// the port is known and logged first) until graceful shutdown, then stops
/// taking connections and lets the requests in flight finish.
struct HTTPServerService: Service {
    let server: HTTPServer
    let gracePeriod: Duration
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("shutting down: no new connections, finishing in-flight requests",
                    metadata: ["shutdown.grace_s": "\(gracePeriod.components.seconds)"])
        await server.stop(gracePeriod: gracePeriod)
    }
}

/// Work that runs until it is cancelled, cancelled at graceful shutdown.
struct CancelledOnShutdown: Service {
    let name: String
    let work: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown(work)
    }
}
