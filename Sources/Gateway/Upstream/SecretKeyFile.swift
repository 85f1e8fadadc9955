import Foundation

/// The app's secret key, read from `TENCENT_SECRET_KEY_FILE`. A key whose file
/// group or others may read or write is refused (CONTRACT.md, Database): whoever
/// can read it can sign as the app's administrator.
public enum SecretKeyFile {
    public enum Problem: Error, Equatable, CustomStringConvertible {
        case unreadable(path: String)
        case empty(path: String)
        /// The mode's permission bits, e.g. 0o644.
        case readableByOthers(path: String, mode: UInt32)
        case writableByOthers(path: String, mode: UInt32)

        public var description: String {
            switch self {
            case .unreadable(let path):
                "TENCENT_SECRET_KEY_FILE \(path) cannot be read"
            case .empty(let path):
                "TENCENT_SECRET_KEY_FILE \(path) is empty"
            case .readableByOthers(let path, let mode):
                "TENCENT_SECRET_KEY_FILE \(path) is readable by group or others (mode \(Self.octal(mode))); "
                    + "make it readable by its owner only: chmod 600 \(path)"
            case .writableByOthers(let path, let mode):
                "TENCENT_SECRET_KEY_FILE \(path) is writable by group or others (mode \(Self.octal(mode))); "
                    + "make it its owner's only: chmod 600 \(path)"
            }
        }

        private static func octal(_ mode: UInt32) -> String { "0" + String(mode, radix: 8) }
    }

    /// The key, trimmed of surrounding white space. The file is opened once and
    /// its mode taken from that descriptor, so what is checked is what is read.
    public static func read(_ path: String) throws(Problem) -> String {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw .unreadable(path: path) }
        let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: true)
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw .unreadable(path: path) }
        let mode = UInt32(status.st_mode) & 0o777
        if mode & 0o044 != 0 { throw .readableByOthers(path: path, mode: mode) }
        if mode & 0o022 != 0 { throw .writableByOthers(path: path, mode: mode) }
        guard let data = try? handle.readToEnd(), let text = String(data: data, encoding: .utf8) else {
            throw .unreadable(path: path)
        }
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !key.isEmpty else { throw .empty(path: path) }
        return key
    }
}
