import ArgumentParser
import Foundation
import TencentChat

struct UserSigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usersig", abstract: "Prints a UserSig for the configured app (default: the admin identifier).")

    @Argument(help: "The identifier to sign for (default: TENCENT_ADMIN).") var identifier: String?
    @Option(name: .customLong("expire"), help: "Validity in seconds.") var expire: Int = UserSig.defaultExpire

    func run() async throws {
        var env = ProcessInfo.processInfo.environment
        env["DATABASE_URL"] = env["DATABASE_URL"] ?? "unused"
        let configuration = try ConfigurationOptions().load(requireTencent: true, overrides: env)
        guard expire > 0 else { throw ValidationError("--expire must be positive") }
        print(UserSig.generate(
            identifier: identifier ?? configuration.adminIdentifier, sdkAppID: configuration.sdkAppID,
            secretKey: configuration.secretKey, expire: expire))
    }
}
