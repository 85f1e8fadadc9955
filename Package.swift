// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "account-gateway",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "account-gateway", targets: ["AccountGatewayCommand"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    ],
    targets: [
        // System libraries and the epoll shim.
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"]), .brew(["libpq"])]),
        .systemLibrary(name: "CZlib", providers: [.apt(["zlib1g-dev"])]),
        .target(name: "CEpoll"),
        // libcurl's easy interface for CurlTransport, looked up at run time (no headers needed).
        .target(name: "CCurlTransport", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        // Lets URLSessionTransport trust an operator's CA file on Linux, where
        // FoundationNetworking has no option for it (see CCurlCAFile.c). The
        // executable must export the hook for the dynamic linker to prefer it.
        .target(name: "CCurlCAFile", linkerSettings: [
            .linkedLibrary("dl", .when(platforms: [.linux])),
            .unsafeFlags(["-Xlinker", "--export-dynamic-symbol=curl_multi_add_handle"], .when(platforms: [.linux])),
        ]),

        // PostgreSQL through libpq: connections on threads of their own, a fixed-size pool.
        .target(name: "PostgresClient", dependencies: [
            "CLibPQ",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Sockets and HTTP/1.1; knows nothing of the application.
        .target(name: "HTTPServer", dependencies: [
            "CEpoll",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // Tencent Cloud Chat: UserSig, endpoints, the REST client and its error classes.
        .target(name: "TencentChat", dependencies: [
            "CZlib", "CCurlCAFile", "CCurlTransport",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // A local stand-in for Tencent's account API. It verifies UserSigs with
        // code of its own, not TencentChat's, so a bug there cannot pass here too.
        .target(name: "TencentSandbox", dependencies: [
            "CZlib", "HTTPServer",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The domain, its stores, the routes and the wiring.
        .target(name: "Gateway", dependencies: [
            "PostgresClient", "HTTPServer", "TencentChat",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Prometheus", package: "swift-prometheus"),
        ]),
        .executableTarget(name: "AccountGatewayCommand", dependencies: [
            "Gateway", "TencentSandbox",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // The request parser under arbitrary bytes: libFuzzer's target with -D FUZZING
        // (make fuzz), else a replayer of Fuzz/corpus and Fuzz/regressions (make test).
        .executableTarget(name: "HTTPParserFuzz", dependencies: ["HTTPServer"], path: "Fuzz/HTTPParserFuzz"),

        .testTarget(name: "PostgresClientTests", dependencies: ["PostgresClient", .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "HTTPServerTests", dependencies: ["HTTPServer"]),
        .testTarget(name: "TencentChatTests", dependencies: ["TencentChat", "TencentSandbox"]),
        .testTarget(name: "GatewayTests", dependencies: ["Gateway", "TencentSandbox", .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log")]),
    ]
)
