import ArgumentParser
import Gateway
import Logging
import PostgresClient
import TencentChat

/// What several commands build from the configuration alike.
extension GatewayConfiguration {
    func pool(_ name: String, size: Int, statementTimeout: Duration? = nil, logger: Logger) -> PostgresPool {
        PostgresPool(
            configuration: PostgresConfiguration(connectionString: databaseURL, applicationName: "account-gateway \(name)",
                                                 statementTimeout: statementTimeout),
            size: size, logger: logger)
    }

    /// The Tencent client for this app: endpoint, self-renewing admin signature, pooled transport
    /// (libcurl's easy interface where it can be loaded, URLSession otherwise).
    func tencentClient(logger: Logger) throws -> TencentClient {
        let endpoint: TencentEndpoint
        do { endpoint = try TencentEndpoint(parsing: self.endpoint) } catch { throw ValidationError("\(error)") }
        let choice = upstreamTransport ?? .preferred
        if choice == .urlsession, upstreamTransport == nil {
            logger.notice("libcurl 7.85 or newer could not be loaded: calling Tencent through URLSession")
        }
        let transport: any TencentTransport
        do {
            transport = try choice.make(caFile: caFile)
        } catch let error as CurlTransport.Unavailable {
            throw ValidationError("TENCENT_TRANSPORT=curl: \(error)")
        } catch {
            throw ValidationError("TENCENT_CA_FILE: \(error)")
        }
        return TencentClient(
            endpoint: endpoint,
            signature: AdminSignature(sdkAppID: sdkAppID, identifier: adminIdentifier, secretKey: secretKey, validity: userSigValidity),
            transport: transport, logger: logger)
    }
}
