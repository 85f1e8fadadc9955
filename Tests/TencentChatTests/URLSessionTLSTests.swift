import Foundation
import Testing
@testable import TencentChat

/// TLS towards the upstream, for real: `URLSessionTransport` against an HTTPS
/// stand-in for Tencent (scripts/tls_upstream.py), with throwaway CAs made by
/// `openssl` for this test run.
///
/// The trusted CA file is process-wide (see `URLSessionTransport.init(maxConnectionsPerHost:caFile:)`),
/// so every test configures the same one, and "untrusted" means a server
/// certificate from the other CA: the outcome does not depend on test order.
@Suite(.serialized) struct URLSessionTLSTests {
    static let okBody = #"{"ActionStatus":"OK","ErrorCode":0,"ErrorInfo":""}"#

    @Test func aCertificateFromTheTrustedCAIsAccepted() async throws {
        let pki = try TestPKI.shared.get()
        try await expectAccepted(try URLSessionTransport(caFile: pki.trustedCA), pki)
    }

    @Test func aCertificateFromAnUntrustedCAIsRefused() async throws {
        let pki = try TestPKI.shared.get()
        let transport = try URLSessionTransport(caFile: pki.trustedCA)
        try await expectAccepted(transport, pki)  // so the refusal below is this certificate's doing
        try await TLSUpstream.with(pki.untrustedServer) { port in
            try await TLSUpstream.expectTLSFailure { try await transport.post(url: TLSUpstream.url(port), body: Data("{}".utf8), timeout: .seconds(5)) }
        }
    }

    @Test func aCertificateForAnotherHostIsRefused() async throws {
        let pki = try TestPKI.shared.get()
        let transport = try URLSessionTransport(caFile: pki.trustedCA)
        try await expectAccepted(transport, pki)  // so the refusal below is this certificate's doing
        try await TLSUpstream.with(pki.wrongHostServer) { port in
            try await TLSUpstream.expectTLSFailure { try await transport.post(url: TLSUpstream.url(port), body: Data("{}".utf8), timeout: .seconds(5)) }
        }
    }

    @Test func theValueThatDisablesVerificationIsRefused() {
        #expect(throws: URLSessionTransport.CAFileError.insecureValueRefused) {
            _ = try URLSessionTransport(caFile: "INSECURE_SSL_NO_VERIFY")
        }
    }

    @Test func aFileWithoutCertificatesIsRefused() throws {
        let pki = try TestPKI.shared.get()
        let key = pki.directory.appendingPathComponent("trusted-ca.key").path  // a PEM file, but a key
        #expect(throws: URLSessionTransport.CAFileError.notACertificateFile(key)) {
            _ = try URLSessionTransport(caFile: key)
        }
        #expect(throws: URLSessionTransport.CAFileError.notACertificateFile("/nonexistent/ca.pem")) {
            _ = try URLSessionTransport(caFile: "/nonexistent/ca.pem")
        }
    }

    @Test func aSecondDifferentCAFileIsRefused() throws {
        let pki = try TestPKI.shared.get()
        _ = try URLSessionTransport(caFile: pki.trustedCA)
        _ = try URLSessionTransport(caFile: pki.trustedCA)  // the same file again: fine
        #expect(throws: URLSessionTransport.CAFileError.conflictsWithConfigured(pki.trustedCA)) {
            _ = try URLSessionTransport(caFile: pki.untrustedCA)
        }
    }

    /// FoundationNetworking reports every libcurl TLS failure as URLError.unknown with libcurl's message.
    @Test func libcurlTLSMessagesMapToTLS() {
        func unknown(_ message: String) -> URLError { URLError(.unknown, userInfo: [NSLocalizedDescriptionKey: message]) }
        #expect(URLSessionTransport.map(unknown("SSL certificate problem: unable to get local issuer certificate"))
            == .tls("URLError -1 (certificate or handshake)"))
        #expect(URLSessionTransport.map(unknown("SSL: no alternative certificate subject name matches target host name '127.0.0.1'"))
            == .tls("URLError -1 (certificate or handshake)"))
        #expect(URLSessionTransport.map(unknown("Failure when receiving data from the peer")) == .other("URLError -1"))
    }

    private func expectAccepted(_ transport: URLSessionTransport, _ pki: TestPKI) async throws {
        try await TLSUpstream.with(pki.trustedServer) { port in
            let (status, body) = try await transport.post(url: TLSUpstream.url(port), body: Data("{}".utf8), timeout: .seconds(5))
            #expect(status == 200)
            #expect(String(decoding: body, as: UTF8.self) == Self.okBody)
        }
    }
}

/// Two throwaway CAs and three server certificates, made once per test
/// process: the trusted CA file must stay the same (and on disk, libcurl reads
/// it on every new connection) for as long as the process runs.
struct TestPKI: Sendable {
    struct Server: Sendable {
        let certificate: String
        let key: String
    }

    let directory: URL
    let trustedCA: String
    let untrustedCA: String
    /// From the trusted CA, for 127.0.0.1 and localhost.
    let trustedServer: Server
    /// From the untrusted CA, for the same names.
    let untrustedServer: Server
    /// From the trusted CA, for wrong.example only.
    let wrongHostServer: Server

    static let shared: Result<TestPKI, any Error> = Result { try TestPKI() }

    /// Removed when the test process exits, not before: the CA file stays configured until then.
    static let temporaryDirectory = FileManager.default.temporaryDirectory
        .appendingPathComponent("account-gateway-tls-\(UUID().uuidString)")

    private init() throws {
        directory = Self.temporaryDirectory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: TestPKI.temporaryDirectory) }
        trustedCA = try Self.makeCA("trusted-ca", in: directory)
        untrustedCA = try Self.makeCA("untrusted-ca", in: directory)
        let names = "subjectAltName=IP:127.0.0.1,DNS:localhost"
        trustedServer = try Self.makeServer("trusted-server", ca: "trusted-ca", names: names, in: directory)
        untrustedServer = try Self.makeServer("untrusted-server", ca: "untrusted-ca", names: names, in: directory)
        wrongHostServer = try Self.makeServer("wrong-host-server", ca: "trusted-ca", names: "subjectAltName=DNS:wrong.example", in: directory)
    }

    private static func makeCA(_ name: String, in directory: URL) throws -> String {
        try Tool.run("openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "\(name).key", "-out", "\(name).pem", "-days", "2", "-subj", "/CN=account-gateway test \(name)",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ], in: directory)
        return directory.appendingPathComponent("\(name).pem").path
    }

    private static func makeServer(_ name: String, ca: String, names: String, in directory: URL) throws -> Server {
        try Tool.run("openssl", [
            "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "\(name).key", "-out", "\(name).csr", "-subj", "/CN=\(name)",
        ], in: directory)
        let extensions = "\(names)\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
        try extensions.write(to: directory.appendingPathComponent("\(name).ext"), atomically: true, encoding: .utf8)
        try Tool.run("openssl", [
            "x509", "-req", "-in", "\(name).csr", "-CA", "\(ca).pem", "-CAkey", "\(ca).key", "-CAcreateserial",
            "-out", "\(name).pem", "-days", "2", "-extfile", "\(name).ext",
        ], in: directory)
        return Server(certificate: directory.appendingPathComponent("\(name).pem").path,
                      key: directory.appendingPathComponent("\(name).key").path)
    }
}

/// scripts/tls_upstream.py as a subprocess: it prints its port, answers every
/// POST with 200 and Tencent's OK body, and is killed when the body returns.
enum TLSUpstream {
    /// The account_import URL on the stand-in's port.
    static func url(_ port: Int) -> URL {
        URL(string: "https://127.0.0.1:\(port)/v4/im_open_login_svc/account_import")!
    }

    /// The call fails as `.tls`, whichever transport makes it.
    static func expectTLSFailure(_ call: () async throws -> (status: Int, body: Data)) async throws {
        do {
            let answer = try await call()
            Issue.record("expected a TLS failure, got HTTP \(answer.status)")
        } catch let error as TencentTransportError {
            guard case .tls = error else { Issue.record("expected .tls, got \(error)"); return }
        }
    }

    static let script = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("scripts/tls_upstream.py").path

    static func with(_ server: TestPKI.Server, _ body: (Int) async throws -> Void) async throws {
        let process = try Tool.process("python3", [script, server.certificate, server.key])
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer {
            // SIGKILL, not terminate(): the child inherits the test runner's
            // blocked signal mask, SIGTERM included, and would never exit.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        guard let port = readPort(output.fileHandleForReading) else {
            throw ToolError.failed("\(script) did not print its port (is python3 with the ssl module installed?)")
        }
        try await body(port)
    }

    /// The first line of the script's output; nil if it exits first.
    private static func readPort(_ handle: FileHandle) -> Int? {
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = handle.availableData  // empty at end of file
            if chunk.isEmpty { return nil }
            line.append(chunk)
        }
        return Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}

enum ToolError: Error, CustomStringConvertible {
    case failed(String)
    var description: String {
        switch self { case .failed(let message): message }
    }
}

/// openssl and python3 from PATH. A missing tool fails the test with a
/// message saying what to install: these tests must never pass by not running.
enum Tool {
    static func process(_ name: String, _ arguments: [String]) throws -> Process {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
            .map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let path else {
            throw ToolError.failed("\(name) is not installed (on PATH); the TLS tests need it: apt-get install -y \(name)")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        return process
    }

    static func run(_ name: String, _ arguments: [String], in directory: URL) throws {
        let process = try process(name, arguments)
        process.currentDirectoryURL = directory
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw ToolError.failed("\(name) \(arguments.joined(separator: " ")) failed: \(String(decoding: message, as: UTF8.self))")
        }
    }
}
