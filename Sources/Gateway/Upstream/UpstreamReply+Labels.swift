extension UpstreamReply.Result {
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
