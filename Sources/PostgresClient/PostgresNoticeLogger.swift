import CLibPQ
import Logging

/// Receives the server's NOTICE/WARNING messages, which libpq would otherwise print to stderr.
///
/// libpq calls back through a C function pointer with an opaque `arg`; this object is that `arg`,
/// kept alive by the connection for as long as its `PGconn`.
final class PostgresNoticeLogger: Sendable {
    private let logger: Logger

    init(logger: Logger) {
        self.logger = logger
    }

    func install(on handle: OpaquePointer) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        _ = PQsetNoticeReceiver(
            handle,
            { context, result in
                guard let context, let result else { return }
                Unmanaged<PostgresNoticeLogger>.fromOpaque(context).takeUnretainedValue().receive(
                    result)
            }, context)
    }

    private func receive(_ result: OpaquePointer) {
        func field(_ code: Unicode.Scalar) -> String? {
            PQresultErrorField(result, Int32(code.value)).map { String(cString: $0) }
        }
        let severity = field("V") ?? "NOTICE"  // PG_DIAG_SEVERITY_NONLOCALIZED
        var metadata: Logger.Metadata = ["db.notice.severity": "\(severity)"]
        // PG_DIAG_SQLSTATE
        if let sqlState = field("C") { metadata["db.sqlstate"] = "\(sqlState)" }
        let message = field("M") ?? "(no message)"  // PG_DIAG_MESSAGE_PRIMARY
        logger.log(
            level: severity == "WARNING" ? .warning : .debug,
            "PostgreSQL \(severity.lowercased()): \(message)",
            metadata: metadata)
    }
}
