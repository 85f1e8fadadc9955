import Foundation

/// A temporary file with the given content and permission bits, for the secret-file
/// tests; the caller removes it.
func temporarySecretFile(_ content: String, mode: Int) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID().uuidString)").path
    try content.write(toFile: path, atomically: true, encoding: .utf8)
    try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
    return path
}
