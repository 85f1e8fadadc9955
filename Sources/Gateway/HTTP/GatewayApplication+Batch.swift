import Foundation
import HTTPServer

extension GatewayApplication {
    /// Accounts per `POST /accounts/batch`.
    static let maxBatchAccounts = 1000

    /// `POST /accounts/batch`
    @Sendable func postBatch(_ request: HTTPRequest, _ context: RequestContext) async throws -> RouteResult {
        let caller = context.caller?.name ?? ""
        var event = AuditEvent(requestID: context.requestID, caller: caller, action: .accountBatchImport, outcome: .invalid)
        func reject(_ error: GatewayError) -> RouteResult {
            event.httpStatus = error.status
            event.outcome = Self.outcome(forStatus: error.status)
            return RouteResult(response: error.response(requestID: context.requestID), event: event)
        }

        let object: [String: Any]
        // The count is checked while scanning: a body of 2 MiB over the limit is never parsed into values.
        if let failure = Self.checkJSONBody(request, limit: Self.maxBodyBytes) { return reject(failure) }
        switch JSON.object(request.body, structure: JSONStructure(maxArrayItems: Self.maxBatchAccounts)) {
        case .success(let value): object = value
        case .failure(let malformed) where malformed.overArrayLimit:
            return reject(.invalidRequest([FieldError(field: "accounts", message: "must hold 1 to \(Self.maxBatchAccounts) accounts (more were sent)")]))
        case .failure(let malformed): return reject(.malformedBody(malformed.message))
        }
        let inputs: [AccountInput]
        do {
            inputs = try Self.parseBatch(object, strategy: configuration.idStrategy)
        } catch {
            return reject(.invalidRequest(error.errors))
        }

        let accounts = try await imports.importBatch(inputs, caller: caller, requestID: context.requestID)
        let results = accounts.enumerated().map { index, account in
            BatchResult(index: index, userID: account.userID, chatUserID: account.chatUserID, status: account.status,
                        error: account.lastError)
        }
        let counts = Dictionary(grouping: accounts, by: \.status).mapValues(\.count)
        let status = counts[.pending, default: 0] > 0 ? 202 : 200
        event.httpStatus = status
        event.outcome = counts[.pending, default: 0] > 0 ? .pending
            : counts[.failed, default: 0] > 0 ? (counts[.imported, default: 0] > 0 ? .partial : .rejected) : .imported
        var headers = HTTPHeaders()
        if status == 202 { headers.set("Retry-After", String(delivery.batchLimiter.secondsUntilFree())) }
        return RouteResult(response: Self.json(status, BatchAnswer(results: results), headers: headers), event: event,
                           committed: true)
    }

    /// `{"accounts": [...]}` with 1–1000 valid, distinct accounts; every problem listed.
    static func parseBatch(_ object: [String: Any], strategy: IDStrategy) throws(ValidationFailure) -> [AccountInput] {
        var errors: [FieldError] = []
        for key in object.keys.sorted() where key != "accounts" {
            errors.append(FieldError(field: key, message: "unknown field"))
        }
        guard let items = object["accounts"] as? [Any] else {
            throw ValidationFailure(errors: errors + [FieldError(field: "accounts", message: "is required: an array of accounts")])
        }
        guard (1...maxBatchAccounts).contains(items.count) else {
            throw ValidationFailure(errors: errors + [FieldError(field: "accounts", message: "must hold 1 to \(maxBatchAccounts) accounts (got \(items.count))")])
        }
        var inputs: [AccountInput] = []
        var firstIndex: [UserIDKey: Int] = [:]
        for (index, item) in items.enumerated() {
            let path = "accounts[\(index)]."
            guard let fields = item as? [String: Any] else {
                errors.append(FieldError(field: "accounts[\(index)]", message: "must be an object"))
                continue
            }
            do {
                let input = try AccountInput.parse(fields, strategy: strategy, path: path)
                let key = UserIDKey(input.userID)
                if let first = firstIndex[key] {
                    errors.append(FieldError(field: path + "user_id", message: "repeats accounts[\(first)].user_id"))
                } else {
                    firstIndex[key] = index
                    inputs.append(input)
                }
            } catch {
                errors += error.errors
            }
        }
        if !errors.isEmpty { throw ValidationFailure(errors: errors) }
        return inputs
    }
}

struct BatchAnswer: Encodable {
    var results: [BatchResult]
}

/// One account of a batch answer; `error` only when Tencent reported one.
struct BatchResult: Encodable {
    var index: Int
    var userID: String
    var chatUserID: String
    var status: Account.Status
    var error: Account.UpstreamError?

    enum CodingKeys: String, CodingKey {
        case index, userID = "user_id", chatUserID = "chat_user_id", status, error
    }
}
