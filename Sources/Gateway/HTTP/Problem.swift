import Foundation
import HTTPServer

/// An RFC 9457 problem document.
struct Problem: Encodable, Sendable {
    var type: String
    var title: String
    var status: Int
    var detail: String
    var requestID: String
    var errors: [FieldError]?
    var tencentErrorCode: Int?
    var tencentErrorInfo: String?

    enum CodingKeys: String, CodingKey {
        case type, title, status, detail, requestID = "request_id", errors
        case tencentErrorCode = "tencent_error_code", tencentErrorInfo = "tencent_error_info"
    }

    static let typeBase = "https://account-gateway.internal/problems/"

    func response(headers extra: HTTPHeaders = HTTPHeaders()) -> HTTPResponse {
        var headers = extra
        headers.set("Content-Type", "application/problem+json; charset=utf-8")
        return HTTPResponse(status: status, headers: headers, body: JSON.encode(self))
    }
}

