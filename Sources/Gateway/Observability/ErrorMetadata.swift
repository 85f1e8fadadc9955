import Logging
import PostgresClient

extension Logger.Metadata {
    /// An error as log metadata: its description and, for a database error, its
    /// kind, SQLSTATE, statement and source. Never the server's message or
    /// detail, which can quote row values.
    static func error(_ error: any Error) -> Logger.Metadata {
        var metadata: Logger.Metadata = ["error": "\(error)"]
        if let error = error as? PostgresError { metadata.merge(error.summaryMetadata) { current, _ in current } }
        return metadata
    }

    /// This metadata with `error`'s added.
    func adding(_ error: any Error) -> Logger.Metadata {
        merging(Logger.Metadata.error(error)) { current, _ in current }
    }
}
