import Foundation
import Testing
@testable import HTTPServer

/// The event loops are the connections' executors: a request is handled on the
/// thread that saw it arrive, and nothing is stranded when a loop stops.
@Suite("Event loop executor") struct EventLoopExecutorTests {
    @Test func aTaskPreferringTheLoopRunsOnItsThread() async throws {
        let loop = try EventLoop()
        defer { loop.shutdown() }
        #expect(!EventLoop.isCurrentThreadALoop)
        let onLoop = await Task(executorPreference: loop) { () async -> Bool in
            let before = EventLoop.isCurrentThreadALoop
            try? await Task.sleep(for: .milliseconds(5))  // resumed from the timer's thread: back on the loop
            return before && EventLoop.isCurrentThreadALoop
        }.value
        #expect(onLoop)
    }

    @Test func jobsAfterShutdownRunElsewhere() async throws {
        let loop = try EventLoop()
        loop.shutdown()
        let value = await Task(executorPreference: loop) { 42 }.value
        #expect(value == 42)
    }

    /// Each connection's handler runs on a loop thread, every request of a keep-alive
    /// connection on the same one, and connections are spread over all the loops.
    @Test func handlersRunOnTheLoopsInTurn() async throws {
        let handler: HTTPHandler = { _ in
            let thread = "\(pthread_self())"
            return HTTPResponse(status: 200, body: Array("\(EventLoop.isCurrentThreadALoop) \(thread)".utf8))
        }
        try await withServer(configure: { $0.eventLoops = 2 }, handler: handler) { _, port in
            var threads: Set<String> = []
            for _ in 0..<4 {
                var client = try await TestClient.connect(port: port)
                defer { client.close() }
                var seen: Set<String> = []
                for _ in 0..<3 {
                    try await client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n")
                    let words = try await client.readResponse().text.split(separator: " ")
                    #expect(words.first == "true")
                    seen.insert(String(words.last ?? ""))
                }
                #expect(seen.count == 1, "one connection, one loop thread")
                threads.formUnion(seen)
            }
            #expect(threads.count == 2, "four connections over two loops")
        }
    }
}
