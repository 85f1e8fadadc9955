import ArgumentParser
import Foundation
import TencentChat

struct UserSigCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usersig", abstract: "Prints a UserSig for the configured app (default: the admin identifier).")

    @OptionGroup var options: ConfigurationOptions
    @Argument(help: "The identifier to sign for (default: TENCENT_ADMIN).") var identifier: String?
    @Option(name: .customLong("expire"), help: "Validity in seconds.") var expire: Int = UserSig.defaultExpire

    func run() async throws {
        let configuration = try options.load(requireTencent: true, requireDatabase: false)
        guard expire > 0 else { throw ValidationError("--expire must be positive") }
        print(UserSig.generate(
            identifier: identifier ?? configuration.adminIdentifier, sdkAppID: configuration.sdkAppID,
            secretKey: configuration.secretKey, expire: expire))
    }
}
