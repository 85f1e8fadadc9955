/// A Tencent error answer: HTTP 200, `ActionStatus: FAIL`, this code and info.
struct SandboxFailure: Error, Equatable {
    var code: Int
    var info: String

    init(_ code: Int, _ info: String) {
        self.code = code
        self.info = info
    }
}
