import Foundation
import Synchronization

/// The admin's UserSig for REST calls, cached and renewed well before it expires.
///
/// Long-running servers that sign once at start-up fail when the signature
/// expires; this renews it once it is older than `renewAfter` (default: one
/// day, or half the validity when that is shorter), and at once after
/// `invalidate()` (Tencent answered 70001/70052) and `rotate(secretKey:)` (a
/// new key was loaded). Safe to share across tasks.
public final class AdminSignature: Sendable, CustomStringConvertible {
    public let sdkAppID: Int
    public let identifier: String
    /// Seconds each signature is valid for.
    public let validity: Int
    /// A day, not the generator's 180 days: an admin signature that leaks (say,
    /// through a proxy's access log of request URLs) is of use for hours only.
    public static let defaultValidity = 86_400
    /// Age in seconds after which a new signature is made.
    public let renewAfter: Int

    private let now: @Sendable () -> Date
    private let state: Mutex<State>

    private struct State {
        var secretKey: String
        var current: String?
        var issuedAt = 0
        var made = 0
    }

    public init(
        sdkAppID: Int, identifier: String, secretKey: String,
        validity: Int = AdminSignature.defaultValidity, renewAfter: Int? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        precondition(validity > 0, "validity must be positive")
        self.sdkAppID = sdkAppID
        self.identifier = identifier
        self.state = Mutex(State(secretKey: secretKey))
        self.validity = validity
        self.renewAfter = min(max(renewAfter ?? min(86_400, validity / 2), 0), validity)
        self.now = now
    }

    /// A valid admin UserSig, renewed when due. Treat it as a secret.
    public func current() -> String {
        let time = UserSig.unixSeconds(now())
        return state.withLock { state in
            // A clock that went backwards also renews: a signature "from the future" is suspect.
            if let current = state.current, time >= state.issuedAt, time - state.issuedAt < renewAfter {
                return current
            }
            let fresh = UserSig.generate(
                identifier: identifier, sdkAppID: sdkAppID, secretKey: state.secretKey,
                expire: validity, now: Date(timeIntervalSince1970: TimeInterval(time)))
            state.made += 1
            state.current = fresh
            state.issuedAt = time
            return fresh
        }
    }

    /// Forgets the cached signature so the next `current()` makes a new one.
    public func invalidate() {
        state.withLock { $0.current = nil }
    }

    /// Signs with `secretKey` from now on (a rotated key file). Returns false,
    /// and changes nothing, when it is the key already in use.
    @discardableResult
    public func rotate(secretKey: String) -> Bool {
        state.withLock { state in
            guard state.secretKey != secretKey else { return false }
            state.secretKey = secretKey
            state.current = nil
            return true
        }
    }

    /// How many signatures were made so far, the first included (for metrics and tests).
    public var signaturesMade: Int { state.withLock { $0.made } }

    /// Issue time (Unix seconds) of the cached signature, if any.
    public var issuedAt: Int? { state.withLock { $0.current == nil ? nil : $0.issuedAt } }

    public var description: String {
        "AdminSignature(sdkappid: \(sdkAppID), identifier: \(identifier), validity: \(validity)s, renewAfter: \(renewAfter)s)"
    }
}
