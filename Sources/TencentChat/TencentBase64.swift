import Foundation

/// Tencent's Base64 variant for UserSig: standard Base64 with `+`→`*`,
/// `/`→`-`, `=`→`_` (padding kept). Not RFC 4648 base64url.
enum TencentBase64 {
    static func encode(_ data: Data) -> String {
        String(data.base64EncodedString().map { character -> Character in
            switch character {
            case "+": "*"
            case "/": "-"
            case "=": "_"
            default: character
            }
        })
    }

    static func decode(_ string: String) -> Data? {
        var standard = String(string.map { character -> Character in
            switch character {
            case "*": "+"
            case "-": "/"
            case "_": "="
            default: character
            }
        })
        // Some third-party generators drop the padding; restore it.
        while standard.utf8.count % 4 != 0 { standard += "=" }
        return Data(base64Encoded: standard)
    }
}
