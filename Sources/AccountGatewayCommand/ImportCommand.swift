import ArgumentParser
import Foundation
import Gateway
import Logging
import PostgresClient
import Synchronization
import TencentChat

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Bulk-imports a CSV (header user_id,nick,face_url) or NDJSON file; exit 0 when every row ended imported.",
        discussion: """
            Uses the same configuration as serve and shares the central rate limits with the running replicas.
            The file is streamed: memory stays bounded whatever its size, and delivery starts with the first batch.
            Resumable: run it again after an interruption; rows already imported as asked are not sent again.
            Progress (a bar on a terminal, a line every 5 s otherwise), row errors and the summary go to stderr.
            """)

    @OptionGroup var options: ConfigurationOptions
    @Argument(help: "The file to import.") var file: String
    @Option(name: .customLong("batch-size"), help: "Rows committed per transaction (1–1000).") var batchSize: Int = 1000
    @Option(name: .customLong("drain-timeout"), help: "Seconds to follow pending rows before giving up.") var drainTimeout: Int = 3600

    func run() async throws {
        let configuration = try options.load(requireTencent: true)
        let logger = Logger(label: "account-gateway.import")
        // Before any connection is made; the reader checks the same again when it opens the file.
        if let refusal = BulkImporter.refusal(toRead: file) { throw ValidationError(refusal) }
        let client = try configuration.tencentClient(logger: logger)
        let pool = configuration.pool("import", size: 6, statementTimeout: .seconds(30), logger: logger)
        let limiterPool = configuration.pool("import limiter", size: 2, statementTimeout: .seconds(5), logger: logger)
        let app = GatewayApplication(configuration: configuration, pool: pool, upstream: TencentUpstream(client: client),
                                     logger: logger, limiterPool: limiterPool,
                                     replicaID: "import:" + GatewayApplication.defaultReplicaID())
        let importer = BulkImporter(app: app, batchSize: batchSize)
        let display = ProgressDisplay(terminal: isatty(STDERR_FILENO) == 1)
        let progress: BulkImporter.Progress
        let reasons: [BulkImporter.FailureReason]
        do {
            progress = try await importer.run(URL(fileURLWithPath: file), drainTimeout: .seconds(drainTimeout)) { rowError, progress in
                if let rowError {
                    display.write("import: line \(rowError.line): \(rowError.message)")
                } else {
                    display.show(progress)
                }
            }
            reasons = progress.failed > 0 ? try await importer.failureReasons(runID: progress.runID) : []
        } catch {
            display.finish()
            await app.drain(timeout: .seconds(5))
            await pool.close()
            await limiterPool.close()
            throw error
        }
        display.finish()
        await app.drain(timeout: .seconds(10))
        await pool.close()
        await limiterPool.close()
        display.write("import: done in \(display.elapsedText) · \(progress)")
        for reason in reasons {
            display.write("import: failed: \(reason.accounts) account(s) with Tencent error \(reason.code.map(String.init) ?? "none"): \(reason.info ?? "")")
        }
        if let reason = progress.stoppedBecause { display.write("import: stopped: \(reason)") }
        print("import: \(progress)")
        if !progress.isComplete { throw ExitCode(1) }
    }
}

/// Progress on stderr: a bar redrawn in place on a terminal, a plain line every
/// 5 s otherwise (a log file or CI), with done/total, accounts/s and an ETA.
final class ProgressDisplay: Sendable {
    private struct State {
        var lastPlain: ContinuousClock.Instant?
        /// A bar is on the last line, without its newline.
        var drawn = false
    }

    private let terminal: Bool
    private let started = ContinuousClock.now
    private let state = Mutex(State())

    init(terminal: Bool) {
        self.terminal = terminal
    }

    var elapsedText: String { String(format: "%.1f s", (ContinuousClock.now - started).seconds) }

    func write(_ line: String) {
        state.withLock { state in
            Self.endBar(&state)
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }

    func show(_ progress: BulkImporter.Progress) {
        let elapsed = max((ContinuousClock.now - started).seconds, 0.001)
        let answered = progress.imported + progress.failed + progress.invalid
        let rate = Double(progress.imported + progress.failed) / elapsed
        // The total is known once the file is read; until then, estimate it from the bytes read.
        let read = progress.totalBytes > 0 ? Double(progress.bytesRead) / Double(progress.totalBytes) : 1
        let total = read >= 1 ? progress.rows : Int(Double(progress.rows) / max(read, 0.0001))
        let fraction = total > 0 ? min(1, Double(answered) / Double(total)) : 0
        let eta = rate > 0 ? String(format: "%.0f s", Double(max(0, total - answered)) / rate) : "?"
        let summary = "\(answered)/\(read >= 1 ? "" : "~")\(total) · imported \(progress.imported) · pending \(progress.pending) · failed \(progress.failed) · invalid \(progress.invalid) · \(Int(rate)) accounts/s · ETA \(eta)"
        state.withLock { state in
            if terminal {
                let width = 30
                let filled = Int(fraction * Double(width))
                let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                FileHandle.standardError.write(Data("\r\u{1B}[2K[\(bar)] \(Int(fraction * 100))% \(summary)".utf8))
                state.drawn = true
            } else if state.lastPlain.map({ ContinuousClock.now - $0 >= .seconds(5) }) ?? true {
                FileHandle.standardError.write(Data("import: \(summary)\n".utf8))
                state.lastPlain = .now
            }
        }
    }

    func finish() {
        state.withLock { Self.endBar(&$0) }
    }

    private static func endBar(_ state: inout State) {
        if state.drawn { FileHandle.standardError.write(Data("\n".utf8)) }
        state.drawn = false
    }
}
