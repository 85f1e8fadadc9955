/// This build's version: in `--version`, `/status` and `gateway_build_info`.
public enum GatewayVersion {
    public static let current = "1.4.0"
}
