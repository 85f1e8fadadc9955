// swift-tools-version:6.0
// A Hummingbird 2 server answering GET /healthz like the gateway does: the peer
// Benchmarks/healthz_bench.py measures the gateway's own HTTP server against.
// A package of its own so the product never depends on SwiftNIO.
import PackageDescription

let package = Package(
    name: "HummingbirdPeer",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", exact: "2.28.1"),
    ],
    targets: [
        .executableTarget(name: "HummingbirdPeer", dependencies: [
            .product(name: "Hummingbird", package: "hummingbird"),
        ]),
    ]
)
