import Foundation
import HTTPServer

/// The `/v4` pipeline, in Tencent's order; the first failing step answers
/// (always HTTP 200 with `ActionStatus: FAIL`, except injected 502s):
///
/// | step | code |
/// |---|---|
/// | method is not POST; unknown service or command | 60002 |
/// | run-time forced code set (`setForcedCode`, `PUT /sandbox/code`) | that code |
/// | `sdkappid` missing or not a number | 60012 |
/// | `identifier` or `usersig` missing | 60004 |
/// | `random` not a u32, `contenttype` not `json` | 60002 |
/// | `sdkappid` is not this app | 70020 |
/// | identifier locked out after repeated failed checks | 70050 |
/// | UserSig (the sandbox's own verifier, `SandboxUserSig`): expired / undecodable / bad HMAC / other identifier / other app | 70001 / 70003 / 70009 / 70013 / 70014 |
/// | identifier is not an admin | 70403 |
/// | over the API's calls per sliding second | 60007 |
/// | injected: HTTP 502, or an error from `errorCodes` (nothing imported) | – |
/// | body empty or not a JSON object | 60003 |
/// | batch outside 1–100 | 70206 |
/// | UserID not a 1–32-byte string, wrong field types | 70402 |
/// | Nick or FaceUrl over 500 bytes (account_import) | 40601 |
/// | run-time account code set (`setAccountCode`, `PUT /sandbox/accounts/{UserID}/code`) | that code |
/// | UserID deleted by account_delete (until `POST /sandbox/reset`) | 70399 |
/// | new account beyond `accountQuota` | 70398 |
/// | injected after the work (`lostResponseRate`) | from `errorCodes` |
/// | injected after the work (`dropRate`) | no answer: the connection is closed |
///
/// account_import of an existing account answers 0 and changes nothing (a
/// duplicate import). multiaccount_import answers 0 and lists in
/// `FailAccounts` each item that fails a per-item step above (UserID, profile
/// type or size, account code, 70399, 70398); it imports the others and sets
/// the Nick/FaceUrl given on accounts that already exist.
extension SandboxService {
    private enum Outcome {
        case answer(TencentAnswer, injected: Bool)
        case http502
        case drop
    }

    /// Tencent checks, counts and performs a call when it arrives; `latency`
    /// is its time to answer after that. So a call counts against its API's
    /// rate at arrival, as Tencent's frequency control counts it, and the
    /// calls' spacing on the wire, not their answers', decides a 60007.
    func handleTencent(_ request: HTTPRequest) async -> HTTPResponse {
        let outcome = process(request, at: now())
        let delay = state.withLock { state in latency(using: &state) }
        if delay > .zero { await sleep(delay) }

        switch outcome {
        case .drop:
            state.withLock { $0.stats.droppedConnections += 1 }
            logger.debug("sandbox dropped the connection", metadata: ["sandbox.path": "\(request.path)"])
            return .abortedConnection
        case .http502:
            state.withLock { $0.stats.http502 += 1 }
            logger.debug("sandbox answered HTTP 502", metadata: ["sandbox.path": "\(request.path)"])
            // What an edge proxy sends when the backend is gone: HTML, not Tencent's JSON.
            return HTTPResponse(
                status: 502, headers: ["Content-Type": "text/html"],
                body: Array("<html><body><h1>502 Bad Gateway</h1></body></html>\n".utf8))
        case .answer(let answer, let injected):
            state.withLock { state in
                state.stats.answers[answer.ErrorCode, default: 0] += 1
                if injected { state.stats.injectedErrors += 1 }
            }
            logger.debug("sandbox answered", metadata: [
                "sandbox.path": "\(request.path)", "sandbox.error_code": "\(answer.ErrorCode)",
            ])
            return Self.json(status: 200, answer)
        }
    }

    private func process(_ request: HTTPRequest, at date: Date) -> Outcome {
        let time = date.timeIntervalSince1970
        do throws(SandboxFailure) {
            // Tencent answers HTTP 200 with an error body for everything it can parse,
            // so a wrong method is 60002 (request could not be parsed), not a 405.
            guard request.method == "POST" else {
                throw SandboxFailure(60002, "HTTP method \(request.method) not supported; use POST")
            }
            let api = try route(request.path)
            let forced = state.withLock { state in
                state.recordArrival(api, at: time)
                return state.forcedCode
            }
            if let forced { throw SandboxFailure(forced.code, forced.info) }
            try authenticate(request, at: date)
            try admit(api, at: time)

            let fault = state.withLock { state -> Outcome? in
                if state.roll(state.faults.http502Rate) { return .http502 }
                if state.roll(state.faults.errorRate) { return .answer(injectedError(using: &state), injected: true) }
                return nil
            }
            if let fault { return fault }

            let body = try parseBody(request.body)
            let answer = try perform(api, body: body, at: date)
            let lost = state.withLock { state -> Outcome? in
                if state.roll(state.faults.dropRate) { return .drop }
                return state.roll(state.faults.lostResponseRate) ? .answer(injectedError(using: &state), injected: true) : nil
            }
            if let lost { return lost }
            return .answer(answer, injected: false)
        } catch {
            return .answer(.fail(error), injected: false)
        }
    }

    private func route(_ path: String) throws(SandboxFailure) -> SandboxAPI {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        // "", "v4", service, command
        guard parts.count == 4, parts[2] == SandboxAPI.service, let api = SandboxAPI(rawValue: String(parts[3])) else {
            throw SandboxFailure(60002, "API not found: \(path)")
        }
        return api
    }

    private func authenticate(_ request: HTTPRequest, at date: Date) throws(SandboxFailure) {
        guard let sdkAppIDText = request.queryValue("sdkappid"), !sdkAppIDText.isEmpty else {
            throw SandboxFailure(60012, "REST API requires sdkappid")
        }
        guard let sdkAppID = Int(sdkAppIDText), sdkAppID > 0 else {
            throw SandboxFailure(60012, "sdkappid is not a number")
        }
        guard let identifier = request.queryValue("identifier"), !identifier.isEmpty else {
            throw SandboxFailure(60004, "identifier missing from the URL")
        }
        guard let userSig = request.queryValue("usersig"), !userSig.isEmpty else {
            throw SandboxFailure(60004, "usersig missing from the URL")
        }
        guard let random = request.queryValue("random"), random.utf8.allSatisfy({ (48...57).contains($0) }), UInt32(random) != nil else {
            throw SandboxFailure(60002, "random must be a 32-bit unsigned integer")
        }
        guard request.queryValue("contenttype") == "json" else {
            throw SandboxFailure(60002, "contenttype must be json")
        }
        guard sdkAppID == configuration.sdkAppID else {
            throw SandboxFailure(70020, "sdkappid not found in this data center")
        }

        let time = date.timeIntervalSince1970
        let locked = state.withLock { state in
            if let until = state.lockedUntil[identifier], time < until { return true }
            state.lockedUntil[identifier] = nil
            return false
        }
        if locked { throw SandboxFailure(70050, "too many failed UserSig checks; retry after 1 minute") }

        do throws(SandboxFailure) {
            try SandboxUserSig.verify(userSig, identifier: identifier, sdkAppID: sdkAppID, secretKey: configuration.secretKey, now: date)
        } catch {
            throw lockOutIfNeeded(identifier, at: time) ?? error
        }

        guard configuration.adminIdentifiers.contains(identifier) else {
            throw SandboxFailure(70403, "this API requires the app admin's permissions")
        }
    }

    /// Counts a failed check; past the limit the identifier is locked out and this call answers 70050.
    private func lockOutIfNeeded(_ identifier: String, at time: Double) -> SandboxFailure? {
        state.withLock { state in
            var failures = state.signatureFailures[identifier] ?? SlidingWindow(width: configuration.signatureFailureWindow.seconds)
            failures.record(time)
            let count = failures.count(at: time)
            guard count > configuration.signatureFailureLimit else {
                state.signatureFailures[identifier] = failures
                return nil
            }
            state.signatureFailures[identifier] = nil
            state.lockedUntil[identifier] = time + configuration.signatureLockout.seconds
            return SandboxFailure(70050, "too many failed UserSig checks; retry after 1 minute")
        }
    }

    private func admit(_ api: SandboxAPI, at time: Double) throws(SandboxFailure) {
        let rate = configuration.rate(for: api)
        let admitted = state.withLock { $0.admit(api, rate: rate, at: time) }
        guard admitted else {
            throw SandboxFailure(60007, "REST API call frequency exceeded (\(rate)/s for \(api.rawValue))")
        }
    }

    private func injectedError(using state: inout SandboxState) -> TencentAnswer {
        let codes = configuration.errorCodes.isEmpty ? [70500] : configuration.errorCodes
        let code = codes[min(Int(state.draw() * Double(codes.count)), codes.count - 1)]
        return .fail(SandboxFailure(code, "injected error"))
    }

    private func latency(using state: inout SandboxState) -> Duration {
        switch configuration.latency {
        case .none: return .zero
        case .fixed(let duration): return duration
        case .range(let range):
            let low = range.lowerBound.seconds, high = range.upperBound.seconds
            return .seconds(low + (high - low) * state.draw())
        }
    }
}
