import Foundation

/// Body parsing, field validation and the account work of each API.
extension SandboxService {
    static let maxUserIDBytes = 32
    static let maxProfileBytes = 500
    static let maxBatch = 100

    func parseBody(_ body: [UInt8]) throws(SandboxFailure) -> [String: Any] {
        guard !body.isEmpty,
              let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        else { throw SandboxFailure(60003, "request body is not a JSON object") }
        return object
    }

    func perform(_ api: SandboxAPI, body: [String: Any], at date: Date) throws(SandboxFailure) -> TencentAnswer {
        switch api {
        case .accountImport: try accountImport(body, at: date)
        case .multiaccountImport: try multiaccountImport(body, at: date)
        case .accountCheck: try accountCheck(body)
        case .accountDelete: try accountDelete(body)
        }
    }

    /// Importing an existing account succeeds and changes nothing: Tencent
    /// documents profile updates for multiaccount_import only.
    private func accountImport(_ body: [String: Any], at date: Date) throws(SandboxFailure) -> TencentAnswer {
        let account = try Self.importItem(body)
        guard !account.wrongProfileType else { throw SandboxFailure(70402, "Nick and FaceUrl must be strings") }
        guard Self.validUserID(account.userID) else {
            throw SandboxFailure(70402, "UserID must be 1–\(Self.maxUserIDBytes) bytes")
        }
        guard account.profileFits else {
            throw SandboxFailure(40601, "profile field longer than \(Self.maxProfileBytes) bytes")
        }
        let failure = state.withLock { state in
            state.importAccount(
                account.userID, nick: account.nick, faceURL: account.faceURL, updateProfile: false,
                quota: configuration.accountQuota, at: date)
        }
        if let failure { throw failure }
        return .ok
    }

    /// Accepts the current `AccountList` form and the older `Accounts` list of
    /// UserIDs. Items that cannot be imported go to `FailAccounts` while the
    /// others are imported: a UserID outside 1–32 bytes, Nick/FaceUrl of the
    /// wrong type or over 500 bytes, a run-time account code, a deleted
    /// account (70399), the edition's quota (70398). Only a malformed body
    /// (an item without a string UserID) or a batch outside 1–100 fails the
    /// whole call.
    private func multiaccountImport(_ body: [String: Any], at date: Date) throws(SandboxFailure) -> TencentAnswer {
        var items: [ImportItem] = []
        if let list = body["AccountList"] as? [Any] {
            try Self.checkBatch(list.count)
            for element in list {
                guard let object = element as? [String: Any] else { throw SandboxFailure(70402, "AccountList items must be objects") }
                items.append(try Self.importItem(object))
            }
        } else if let list = body["Accounts"] as? [Any] {
            try Self.checkBatch(list.count)
            for element in list {
                guard let userID = element as? String else { throw SandboxFailure(70402, "Accounts items must be strings") }
                items.append(ImportItem(userID: userID))
            }
        } else {
            throw SandboxFailure(70402, "AccountList is required")
        }

        let failed = state.withLock { state in
            items.compactMap { item -> String? in
                guard item.isValid else { return item.userID }
                let failure = state.importAccount(
                    item.userID, nick: item.nick, faceURL: item.faceURL, updateProfile: true,
                    quota: configuration.accountQuota, at: date)
                return failure == nil ? nil : item.userID
            }
        }
        var answer = TencentAnswer.ok
        answer.FailAccounts = failed
        return answer
    }

    private func accountCheck(_ body: [String: Any]) throws(SandboxFailure) -> TencentAnswer {
        try answerPerUser(body, key: "CheckItem") { state, userID in
            guard Self.validUserID(userID) else {
                return .init(UserID: userID, ResultCode: 70402, ResultInfo: "invalid UserID", AccountStatus: "NotImported")
            }
            let status = state.accounts[userID] == nil ? "NotImported" : "Imported"
            return .init(UserID: userID, ResultCode: 0, ResultInfo: "", AccountStatus: status)
        }
    }

    private func accountDelete(_ body: [String: Any]) throws(SandboxFailure) -> TencentAnswer {
        try answerPerUser(body, key: "DeleteItem") { state, userID in
            state.deleteAccount(userID)
                ? .init(UserID: userID, ResultCode: 0, ResultInfo: "")
                : .init(UserID: userID, ResultCode: 70107, ResultInfo: "account not imported")
        }
    }

    /// An answer with one `ResultItem` per UserID listed under `key`, each made under the state's lock.
    private func answerPerUser(_ body: [String: Any], key: String,
                               _ item: (inout SandboxState, String) -> TencentAnswer.Item) throws(SandboxFailure) -> TencentAnswer {
        let userIDs = try Self.userIDItems(body, key: key)
        var answer = TencentAnswer.ok
        answer.ResultItem = state.withLock { state in userIDs.map { item(&state, $0) } }
        return answer
    }

    // MARK: Validation

    /// An import item whose UserID is a string.
    struct ImportItem {
        var userID: String
        var nick: String?
        var faceURL: String?
        /// Nick or FaceUrl present (not JSON null) but not a string.
        var wrongProfileType = false

        /// Nick and FaceUrl within their 500 bytes.
        var profileFits: Bool {
            (nick?.utf8.count ?? 0) <= maxProfileBytes && (faceURL?.utf8.count ?? 0) <= maxProfileBytes
        }

        /// Importable as far as the body goes: a 1–32-byte UserID, string profile fields that fit.
        var isValid: Bool {
            validUserID(userID) && !wrongProfileType && profileFits
        }
    }

    /// `UserID` must be a string, or the body is malformed; `Nick`/`FaceUrl`
    /// are judged by the caller, since multiaccount_import fails only that item.
    private static func importItem(_ object: [String: Any]) throws(SandboxFailure) -> ImportItem {
        guard let userID = object["UserID"] as? String else { throw SandboxFailure(70402, "UserID is required and must be a string") }
        // JSON null reads as absent.
        let nick = object["Nick"].flatMap { $0 is NSNull ? nil : $0 }
        let faceURL = object["FaceUrl"].flatMap { $0 is NSNull ? nil : $0 }
        return ImportItem(
            userID: userID, nick: nick as? String, faceURL: faceURL as? String,
            wrongProfileType: !(nick == nil || nick is String) || !(faceURL == nil || faceURL is String))
    }

    private static func userIDItems(_ body: [String: Any], key: String) throws(SandboxFailure) -> [String] {
        guard let list = body[key] as? [Any] else { throw SandboxFailure(70402, "\(key) is required") }
        try checkBatch(list.count)
        var userIDs: [String] = []
        for element in list {
            guard let userID = (element as? [String: Any])?["UserID"] as? String else {
                throw SandboxFailure(70402, "each \(key) item needs a string UserID")
            }
            userIDs.append(userID)
        }
        return userIDs
    }

    private static func checkBatch(_ count: Int) throws(SandboxFailure) {
        guard (1...maxBatch).contains(count) else {
            throw SandboxFailure(70206, "batch of \(count) items; 1–\(maxBatch) allowed")
        }
    }

    static func validUserID(_ userID: String) -> Bool {
        (1...maxUserIDBytes).contains(userID.utf8.count)
    }
}
