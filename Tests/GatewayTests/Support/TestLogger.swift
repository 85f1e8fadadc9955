import Foundation
import Logging

/// Tests log nowhere unless TEST_LOG=1: the global bootstrap is never touched.
enum TestLogger {
    static func make(_ label: String = "test") -> Logger {
        if ProcessInfo.processInfo.environment["TEST_LOG"] == "1" {
            return Logger(label: label, factory: { StreamLogHandler.standardError(label: $0) })
        }
        return Logger(label: label, factory: { _ in SwiftLogNoOpLogHandler() })
    }
}
