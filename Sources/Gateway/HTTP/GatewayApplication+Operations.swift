import Foundation
import HTTPServer
import PostgresClient

extension GatewayApplication {
    /// `GET /`: what this is and where to look; no account data.
    func root(_ request: HTTPRequest) async -> HTTPResponse {
        Self.json(200, [
            "service": "account-gateway",
            "description": "Registers app users with Tencent Cloud Chat (account_import) under a central rate limit.",
            "health": "/healthz", "readiness": "/readyz", "metrics": "/metrics",
            "accounts": "/accounts", "audit": "/audit", "openapi": "/openapi.yaml", "status": "/status",
        ])
    }

    /// `GET /readyz`: the database answers and the schema is the one this build expects.
    func readyz(_ request: HTTPRequest) async -> HTTPResponse {
        let requestID = RequestContext.current?.requestID ?? ""
        do {
            let version = try await pool.withConnection { try Migrator.currentVersion(on: $0) }
            // Newer is fine: migrations only add, so a release keeps working while the next one migrates.
            guard version >= Migrator.expectedVersion else {
                metrics.setReady(false)
                let detail = "Schema version is \(version); this build needs \(Migrator.expectedVersion). Run `account-gateway migrate`."
                return GatewayError.notReady(detail).response(requestID: requestID)
            }
            var body = ["status": "ready", "schema_version": String(version)]
            // Ready all the same: requests are still accepted and stored, and answered 202.
            if let open = await delivery.breaker.state() {
                body["upstream"] = open.summary + "; calls to Tencent wait for the configuration to be fixed"
            }
            metrics.setReady(true)
            return Self.json(200, body)
        } catch {
            metrics.setReady(false)
            logger.warning("readiness check failed", metadata: .error(error))
            return GatewayError.notReady("The database does not answer.").response(requestID: requestID)
        }
    }
}
