import Foundation

enum JSON {
    private static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    /// Encodes a value the gateway built itself; such values always encode.
    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        do {
            return Array(try encoder.encode(value))
        } catch {
            preconditionFailure("JSON encoding of \(T.self) failed: \(error)")
        }
    }

    /// A value as JSON text, e.g. a list bound as one `jsonb` parameter.
    static func text<T: Encodable>(_ value: T) -> String {
        String(decoding: encode(value), as: UTF8.self)
    }

    /// Parses a request body that must be a JSON object, of the given structure.
    static func object(_ body: [UInt8], structure: JSONStructure = JSONStructure()) -> Result<[String: Any], MalformedJSON> {
        guard !body.isEmpty else { return .failure(MalformedJSON(message: "The request body is empty; a JSON object is expected.")) }
        do {
            try structure.check(body)
        } catch {
            switch error {
            case .duplicateKey(let key):
                return .failure(MalformedJSON(message: "The request body has the key \"\(key.prefix(64))\" twice in one object."))
            case .tooDeep(let limit):
                return .failure(MalformedJSON(message: "The request body nests objects and arrays more than \(limit) deep."))
            case .tooManyItems(let limit):
                return .failure(MalformedJSON(message: "An array in the request body has more than \(limit) items.", overArrayLimit: true))
            }
        }
        let value: Any
        do {
            value = try JSONSerialization.jsonObject(with: Data(body), options: [])
        } catch {
            return .failure(MalformedJSON(message: "The request body is not valid JSON."))
        }
        guard let object = value as? [String: Any] else {
            return .failure(MalformedJSON(message: "The request body must be a JSON object."))
        }
        return .success(object)
    }
}
