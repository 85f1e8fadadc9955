import TencentChat

extension UpstreamReply.Result {
    /// The one classification of an answer (docs/UPSTREAM_ERRORS.md), for imports and `reconcile` alike.
    var errorClass: TencentErrorClass {
        switch self {
        case .ok: .success
        case .tencent(let code, _): TencentErrorClass.classify(code)
        case .httpStatus(let status): TencentErrorClass.classify(httpStatus: status)
        case .transport: .transient
        case .listedInFailAccounts: .undocumented
        }
    }

    /// The answer in words, for logs and errors: Tencent's code and text, the HTTP status, or the transport failure.
    var summary: String {
        switch self {
        case .ok: "ok"
        case .tencent(let code, let info): "\(code) \(info)"
        case .httpStatus(let status): "upstream answered HTTP \(status)"
        case .transport(let why): why
        case .listedInFailAccounts: "listed in multiaccount_import's FailAccounts without a reason"
        }
    }

    var metricLabel: String {
        switch self {
        case .ok: "0"
        case .tencent(let code, _): String(code)
        case .httpStatus(let status): "http_\(status)"
        case .transport: "transport"
        case .listedInFailAccounts: "fail_accounts"
        }
    }

    var tencentCode: Int? {
        if case .tencent(let code, _) = self { return code }
        return nil
    }

    var tencentInfo: String? {
        if case .tencent(_, let info) = self { return info }
        return nil
    }
}
