extension UpstreamReply.Result {
    var metricLabel: String {
        switch self {
        case .ok: "0"
        case .tencent(let code, _): String(code)
        case .transport: "transport"
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
