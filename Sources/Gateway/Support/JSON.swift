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
        guard !body.isEmpty else { return .failure(MalformedJSON(reason: "is empty; a JSON object is expected.")) }
        // RFC 8259 §8.1: UTF-8. Foundation's parser would guess UTF-16 or UTF-32
        // from zero bytes, which JSON text never holds raw (a NUL must be escaped).
        guard !body.contains(0), String(validating: body, as: UTF8.self) != nil else {
            return .failure(MalformedJSON(reason: "is not valid JSON: it must be UTF-8 text."))
        }
        do {
            try structure.check(body)
        } catch {
            switch error {
            case .duplicateKey(let key):
                return .failure(MalformedJSON(reason: "has the key \"\(key.prefix(64))\" twice in one object."))
            case .trailingComma:
                return .failure(MalformedJSON(reason: "is not valid JSON: a comma before a closing bracket."))
            case .tooDeep(let limit):
                return .failure(MalformedJSON(reason: "nests objects and arrays more than \(limit) deep."))
            case .tooManyItems(let limit):
                return .failure(MalformedJSON(reason: "has an array of more than \(limit) items.", overArrayLimit: true))
            }
        }
        let value: Any
        do {
            // Fragments too, so that a bare string or number is told it is not an object.
            value = try JSONSerialization.jsonObject(with: Data(body), options: [.fragmentsAllowed])
        } catch {
            return .failure(MalformedJSON(reason: "is not valid JSON."))
        }
        guard let object = value as? [String: Any] else {
            return .failure(MalformedJSON(reason: "must be a JSON object."))
        }
        return .success(object)
    }
}
