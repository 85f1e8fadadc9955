/// What the sandbox emulates and which faults it injects. The defaults
/// behave like a healthy Tencent app with the documented limits.
public struct SandboxConfiguration: Sendable {
    /// The only SDKAppID this "data center" knows; others answer 70020.
    public var sdkAppID: Int
    /// The app's secret key, used to verify every UserSig.
    public var secretKey: String
    /// Identifiers that are app admins; a valid UserSig of anyone else answers 70403.
    public var adminIdentifiers: Set<String> = ["administrator"]
    /// Calls per second admitted per API over a sliding 1-second window; beyond: 60007.
    public var rates: [SandboxAPI: Int] = SandboxAPI.defaultRates

    /// Share of admitted calls answered with one of `errorCodes` without doing the work.
    public var errorRate: Double = 0
    /// Codes for injected errors, drawn uniformly.
    public var errorCodes: [Int] = [70500, 60008]
    /// Share of calls that do the work and then answer one of `errorCodes`
    /// anyway, like a timeout after the commit. Separate from `errorRate`.
    public var lostResponseRate: Double = 0
    /// Share of admitted calls answered HTTP 502 (an edge failure), without doing the work.
    public var http502Rate: Double = 0
    /// Share of calls that do the work and then drop the connection unanswered.
    public var dropRate: Double = 0
    /// Time taken to answer each `/v4` call, after it is checked, counted
    /// against its rate and performed on arrival (as Tencent counts it).
    public var latency: SandboxLatency = .none

    /// Accounts the edition allows (the trial edition allows 100); beyond: 70398. Nil: unlimited.
    public var accountQuota: Int? = nil

    /// Failed UserSig checks of one identifier tolerated within `signatureFailureWindow`;
    /// the next one answers 70050 and locks that identifier out for `signatureLockout`.
    public var signatureFailureLimit: Int = 10
    public var signatureFailureWindow: Duration = .seconds(60)
    /// Tencent asks callers to wait a minute after 70050.
    public var signatureLockout: Duration = .seconds(60)

    public init(sdkAppID: Int, secretKey: String) {
        self.sdkAppID = sdkAppID
        self.secretKey = secretKey
    }

    /// The fault knobs the sandbox starts with.
    public var faults: SandboxFaults {
        SandboxFaults(errorRate: errorRate, http502Rate: http502Rate, lostResponseRate: lostResponseRate, dropRate: dropRate)
    }

    public func rate(for api: SandboxAPI) -> Int {
        rates[api] ?? api.defaultRate
    }
}
