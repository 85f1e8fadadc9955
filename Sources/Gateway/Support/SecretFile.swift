import Foundation

/// A secret read from a file named by a variable: the app's secret key
/// (`TENCENT_SECRET_KEY_FILE`) or the database URL with its password
/// (`DATABASE_URL_FILE`). A file that group or others may read or write is
/// refused (CONTRACT.md, Database): whoever can read the key can sign as the
/// app's administrator.
public enum SecretFile {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case unreadable(variable: String, path: String)
        case empty(variable: String, path: String)
        /// The mode's permission bits, e.g. 0o644.
        case readableByOthers(variable: String, path: String, mode: UInt32)
        case writableByOthers(variable: String, path: String, mode: UInt32)

        public var description: String {
            switch self {
            case .unreadable(let variable, let path):
                "\(variable) \(path) cannot be read"
            case .empty(let variable, let path):
                "\(variable) \(path) is empty"
            case .readableByOthers(let variable, let path, let mode):
                "\(variable) \(path) is readable by group or others (mode \(Self.octal(mode))); "
                    + "make it readable by its owner only: chmod 600 \(path)"
            case .writableByOthers(let variable, let path, let mode):
                "\(variable) \(path) is writable by group or others (mode \(Self.octal(mode))); "
                    + "make it its owner's only: chmod 600 \(path)"
            }
        }

        private static func octal(_ mode: UInt32) -> String { "0" + String(mode, radix: 8) }
    }

    /// The secret, trimmed of surrounding white space. The file is opened once and
    /// its mode taken from that descriptor, so what is checked is what is read.
    public static func read(_ path: String, variable: String = "TENCENT_SECRET_KEY_FILE") throws(Problem) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable(variable: variable, path: path) }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .unreadable(variable: variable, path: path) }
        let mode = UInt32(status.st_mode) & 0o777
        if mode & 0o044 != 0 { throw .readableByOthers(variable: variable, path: path, mode: mode) }
        if mode & 0o022 != 0 { throw .writableByOthers(variable: variable, path: path, mode: mode) }
        guard let data = try? handle.readToEnd(), let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(variable: variable, path: path)
        }
        let secret = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !secret.isEmpty else { throw .empty(variable: variable, path: path) }
        return secret
    }
}
