import Foundation
import TencentChat

/// `AccountUpstream` over the real Tencent client (or the sandbox, through the same client).
public struct TencentUpstream: AccountUpstream {
    let client: TencentClient

    public init(client: TencentClient) {
        self.client = client
    }

    public func importAccount(_ account: UpstreamAccount, updatingProfile: Bool) async -> UpstreamReply {
        let started = ContinuousClock.now
        let api: UpstreamReply.API = updatingProfile ? .multiaccountImport : .accountImport
        let result: UpstreamReply.Result
        do {
            let reply: TencentReply
            if updatingProfile {
                reply = try await client.multiaccountImport([
                    ImportAccount(userID: account.chatUserID, nick: account.nick, faceURL: account.faceURL),
                ])
            } else {
                reply = try await client.accountImport(userID: account.chatUserID, nick: account.nick, faceURL: account.faceURL)
            }
            if reply.errorCode != 0 {
                result = .tencent(code: reply.errorCode, info: reply.errorInfo)
            } else if !reply.isSuccess {
                // "FAIL" with ErrorCode 0 contradicts itself: never take it for success.
                result = .transport("upstream answered ActionStatus \(reply.actionStatus) with ErrorCode 0")
            } else if reply.failAccounts.contains(account.chatUserID) {
                result = .listedInFailAccounts
            } else {
                result = .ok
            }
        } catch {
            result = Self.result(of: error)
        }
        return UpstreamReply(api: api, result: result, latency: .now - started)
    }

    public func importAccounts(_ accounts: [UpstreamAccount]) async -> UpstreamBatchReply {
        let started = ContinuousClock.now
        do {
            let reply = try await client.multiaccountImport(accounts.map {
                ImportAccount(userID: $0.chatUserID, nick: $0.nick, faceURL: $0.faceURL)
            })
            let result: UpstreamReply.Result
            if reply.errorCode != 0 {
                result = .tencent(code: reply.errorCode, info: reply.errorInfo)
            } else if !reply.isSuccess {
                result = .transport("upstream answered ActionStatus \(reply.actionStatus) with ErrorCode 0")
            } else {
                result = .ok
            }
            return UpstreamBatchReply(result: result, failed: Set(reply.failAccounts), latency: .now - started)
        } catch {
            return UpstreamBatchReply(result: Self.result(of: error), failed: [], latency: .now - started)
        }
    }

    public func checkAccounts(_ chatUserIDs: [String]) async -> UpstreamCheckReply {
        do {
            let reply = try await client.accountCheck(chatUserIDs)
            guard reply.errorCode == 0 else { return UpstreamCheckReply(result: .tencent(code: reply.errorCode, info: reply.errorInfo)) }
            guard reply.isSuccess else {
                return UpstreamCheckReply(result: .transport("upstream answered ActionStatus \(reply.actionStatus) with ErrorCode 0"))
            }
            // An item with an error of its own, or an unknown status, is in neither set: left alone.
            let answered = reply.resultItems.filter { $0.resultCode == 0 }
            return UpstreamCheckReply(
                result: .ok,
                imported: Set(answered.filter { $0.accountStatus == .imported }.map(\.userID)),
                notImported: Set(answered.filter { $0.accountStatus == .notImported }.map(\.userID)))
        } catch {
            return UpstreamCheckReply(result: Self.result(of: error))
        }
    }

    static func result(of error: TencentClientError) -> UpstreamReply.Result {
        if case .httpStatus(let status) = error { return .httpStatus(status) }
        return .transport(error.description)
    }
}
