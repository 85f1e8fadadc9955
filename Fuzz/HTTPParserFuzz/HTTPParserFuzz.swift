import Foundation
import HTTPServer

/// The request parser and its chunked decoder under arbitrary bytes.
///
/// Built two ways from this one file (see `make fuzz` and docs/FUZZING.md):
/// - with `-sanitize=fuzzer -D FUZZING`, libFuzzer calls `LLVMFuzzerTestOneInput`
///   with inputs of its own making;
/// - without, it is a replayer: `HTTPParserFuzz FILE|DIR...` runs every file through
///   the same checks, which is how `make test` keeps the corpus (Fuzz/corpus) and
///   every crash found so far (Fuzz/regressions) passing.
///
/// What it checks, beyond "does not crash, does not trap, stays in memory":
/// - the parser gives the same requests and the same error whether the bytes come in
///   one piece, in two pieces split anywhere, or one byte at a time;
/// - every request it returns respects the limits it was given;
/// - once it has failed, it stays failed.
enum ParserFuzz {
    static let limits = HTTPRequestParser.Limits(
        maxRequestLineLength: 256, maxHeaderBytes: 1024, maxHeaderCount: 16, maxBodyBytes: 4096)

    /// What a parse produced: each request as text, then how it ended.
    struct Transcript: Equatable {
        var requests: [String] = []
        var ending = "more bytes needed"
    }

    static func check(_ data: [UInt8]) {
        let whole = parse([data[...]])
        let split = data.isEmpty ? 0 : Int(data[0]) % (data.count + 1)
        let halves = parse([data[..<split], data[split...]])
        guard whole == halves else { fail("split at \(split) changed the parse", whole, halves) }
        if data.count <= 512 {
            let bytewise = parse(data.indices.map { data[$0...$0] })
            guard whole == bytewise else { fail("byte-at-a-time changed the parse", whole, bytewise) }
        }
    }

    static func parse(_ pieces: [ArraySlice<UInt8>]) -> Transcript {
        var parser = HTTPRequestParser(limits: limits)
        var transcript = Transcript()
        do {
            for piece in pieces {
                parser.append(piece)
                while let request = try parser.nextRequest() {
                    transcript.requests.append(describe(request))
                }
            }
        } catch {
            transcript.ending = "error \(error)"
            do {
                _ = try parser.nextRequest()
                preconditionFailure("the parser went on after \(error)")
            } catch let again {
                precondition(again == error, "a failed parser changed its error: \(error) then \(again)")
            }
        }
        return transcript
    }

    static func describe(_ request: HTTPRequest) -> String {
        precondition(request.body.count <= limits.maxBodyBytes, "a body over the limit: \(request.body.count) bytes")
        precondition(request.target.utf8.count <= limits.maxRequestLineLength, "a target over the request line limit")
        precondition(request.headers.fields.count <= limits.maxHeaderCount, "more header fields than the limit")
        precondition(!request.method.isEmpty && request.version.hasPrefix("HTTP/1."), "a malformed request line passed")
        let headers = request.headers.fields.map { "\($0.name): \($0.value)" }.joined(separator: "\n")
        return "\(request.method) \(request.target) \(request.version)\n\(headers)\n\n\(request.body)"
    }

    static func fail(_ what: String, _ expected: Transcript, _ got: Transcript) -> Never {
        preconditionFailure("\(what):\n\(expected)\nvs\n\(got)")
    }
}

#if FUZZING
/// libFuzzer's entry for a program with a main of its own (SwiftPM gives every executable one).
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

/// The function libFuzzer calls with each input it makes.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    ParserFuzz.check(start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? [])
    return 0
}

@main
struct Fuzz {
    static func main() {
        var argc = CommandLine.argc
        var argv = CommandLine.unsafeArgv
        exit(LLVMFuzzerRunDriver(&argc, &argv, fuzzOneInput))
    }
}
#else
@main
struct Replay {
    static func main() throws {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            FileHandle.standardError.write(Data("usage: HTTPParserFuzz FILE|DIR...\n".utf8))
            exit(2)
        }
        var files: [URL] = []
        for path in paths {
            let url = URL(fileURLWithPath: path)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                FileHandle.standardError.write(Data("\(path): no such file or directory\n".utf8))
                exit(2)
            }
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: path).sorted()
                files += names.filter { !$0.hasPrefix(".") }.map { url.appendingPathComponent($0) }
            } else {
                files.append(url)
            }
        }
        for file in files {
            ParserFuzz.check(Array(try Data(contentsOf: file)))
        }
        print("HTTPParserFuzz: \(files.count) inputs replayed, all passed")
    }
}
#endif
