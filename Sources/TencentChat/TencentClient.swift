import Foundation
import Logging

/// Tencent Cloud Chat's account REST API: one HTTP call per method call. When
/// Tencent says the admin signature expired (70001/70052) the cached signature
/// is dropped so the next call signs anew; retries (that one included), backoff
/// and rate limiting belong to the caller, so every call takes a slot of the
/// central limit and leaves an audit event.
public struct TencentClient: Sendable {
    public let endpoint: TencentEndpoint
    public let signature: AdminSignature
    public let transport: any TencentTransport
    public let logger: Logger
    /// The total time allowed per HTTP call; above Tencent's own 3 s backend timeout.
    public let timeout: Duration

    /// SDKAppID and admin identifier come from `signature`, so they cannot disagree with it.
    public var sdkAppID: Int { signature.sdkAppID }
    public var identifier: String { signature.identifier }

    public static let accountService = "im_open_login_svc"
    /// Tencent limits each batch call to 100 items.
    public static let maxBatch = 100

    public init(
        endpoint: TencentEndpoint, signature: AdminSignature, transport: any TencentTransport,
        logger: Logger, timeout: Duration = .seconds(6)
    ) {
        self.endpoint = endpoint
        self.signature = signature
        self.transport = transport
        self.logger = logger
        self.timeout = timeout
    }

    /// `account_import`: creates the account, or does nothing new if it exists.
    public func accountImport(userID: String, nick: String? = nil, faceURL: String? = nil) async throws(TencentClientError) -> TencentReply {
        try await call("account_import", body: ImportAccount(userID: userID, nick: nick, faceURL: faceURL))
    }

    /// `multiaccount_import` of 1–100 accounts; those not imported are in `failAccounts`.
    public func multiaccountImport(_ accounts: [ImportAccount]) async throws(TencentClientError) -> TencentReply {
        try checkBatch(accounts.count)
        return try await call("multiaccount_import", body: ["AccountList": accounts])
    }

    /// `account_check` of 1–100 UserIDs; `resultItems` carry `AccountStatus`.
    public func accountCheck(_ userIDs: [String]) async throws(TencentClientError) -> TencentReply {
        try checkBatch(userIDs.count)
        return try await call("account_check", body: ["CheckItem": userIDs.map { ["UserID": $0] }])
    }

    private func checkBatch(_ count: Int) throws(TencentClientError) {
        guard (1...Self.maxBatch).contains(count) else {
            throw .invalidRequest("batch of \(count) items; Tencent accepts 1–\(Self.maxBatch)")
        }
    }

    private func call(_ command: String, body: some Encodable) async throws(TencentClientError) -> TencentReply {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        guard let data = try? encoder.encode(body) else { throw .invalidRequest("body not encodable") }

        let reply = try await send(command, body: data)
        if reply.errorClass == .renewSignature {
            // The next call signs anew. It is the caller's to make: it takes a slot of
            // the central limit and is audited like any other call.
            signature.invalidate()
            logger.notice("admin UserSig rejected; the next call uses a new one", metadata: [
                "upstream.api": "\(command)", "upstream.error_code": "\(reply.errorCode)",
            ])
        }
        return reply
    }

    private func send(_ command: String, body: Data) async throws(TencentClientError) -> TencentReply {
        let url = endpoint.url(
            service: Self.accountService, command: command,
            sdkAppID: sdkAppID, identifier: identifier, userSig: signature.current())
        var metadata: Logger.Metadata = ["upstream.api": "\(command)", "upstream.url": "\(TencentEndpoint.redacted(url))"]

        let answer: (status: Int, body: Data)
        do {
            answer = try await transport.post(url: url, body: body, timeout: timeout)
        } catch let error as TencentTransportError {
            throw failure(.transport(error), metadata: metadata)
        } catch is CancellationError {
            throw failure(.transport(.cancelled), metadata: metadata)
        } catch {
            throw failure(.transport(.other(String(describing: type(of: error)))), metadata: metadata)
        }
        guard answer.status == 200 else {
            throw failure(.httpStatus(answer.status), metadata: metadata)
        }
        guard let envelope = try? JSONDecoder().decode(Envelope.self, from: answer.body) else {
            throw failure(.undecodableBody("\(answer.body.count) bytes, not Tencent's JSON"), metadata: metadata)
        }
        let reply = TencentReply(
            actionStatus: envelope.ActionStatus, errorCode: envelope.ErrorCode, errorInfo: envelope.ErrorInfo ?? "",
            failAccounts: envelope.FailAccounts ?? [], resultItems: envelope.ResultItem ?? [])
        metadata["upstream.error_code"] = "\(reply.errorCode)"
        logger.debug("upstream call answered", metadata: metadata)
        return reply
    }

    private func failure(_ error: TencentClientError, metadata: Logger.Metadata) -> TencentClientError {
        var metadata = metadata
        metadata["error"] = "\(error)"
        logger.debug("upstream call failed", metadata: metadata)
        return error
    }

    /// Tencent's answer, field names as sent.
    private struct Envelope: Decodable {
        var ActionStatus: String
        var ErrorCode: Int
        var ErrorInfo: String?
        var FailAccounts: [String]?
        var ResultItem: [AccountResult]?
    }
}
