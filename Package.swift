// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Interlock",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "interlock", targets: ["interlock"]),
        .library(name: "InterlockGit", targets: ["InterlockGit"]),
        .library(name: "InterlockModel", targets: ["InterlockModel"]),
        .library(name: "InterlockEngine", targets: ["InterlockEngine"]),
        .library(name: "InterlockStore", targets: ["InterlockStore"]),
        .library(name: "InterlockServer", targets: ["InterlockServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibGit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]
        ),
        .target(
            name: "InterlockGit",
            dependencies: ["CLibGit2", .product(name: "HashTreeCollections", package: "swift-collections")]
        ),
        .target(
            name: "InterlockModel",
            dependencies: [
                "InterlockGit",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "HashTreeCollections", package: "swift-collections"),
            ]
        ),
        .target(
            name: "InterlockEngine",
            dependencies: ["InterlockModel"]
        ),
        .target(
            name: "InterlockStore",
            dependencies: [
                "InterlockEngine",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(
            name: "InterlockAgent",
            dependencies: [
                "InterlockEngine",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(name: "audit-stress", dependencies: ["InterlockStore"]),
        .executableTarget(
            name: "interlock-bench",
            dependencies: ["InterlockGit", "InterlockModel", "InterlockEngine", "InterlockStore"],
            path: "Benchmarks/Sources/interlock-bench"
        ),
        .executableTarget(
            name: "interlock",
            dependencies: [
                "InterlockGit",
                "InterlockModel",
                "InterlockEngine",
                "InterlockStore",
                "InterlockServer",
                "InterlockAgent",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "InterlockServer",
            dependencies: [
                "InterlockGit",
                "InterlockModel",
                "InterlockEngine",
                "InterlockStore",
                "InterlockAgent",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "InterlockServerTests",
            dependencies: [
                "InterlockServer",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .testTarget(name: "InterlockGitTests", dependencies: ["InterlockGit"]),
        // What several test targets share: a throwaway PostgreSQL cluster (Tests/postgres/cluster.sh).
        .target(name: "InterlockTestSupport", path: "Tests/InterlockTestSupport"),
        .testTarget(
            name: "InterlockModelTests",
            dependencies: ["InterlockModel", "InterlockGit", .product(name: "Yams", package: "Yams")]
        ),
        .testTarget(
            name: "InterlockStoreTests",
            dependencies: ["InterlockStore", "InterlockTestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(name: "InterlockCLITests", dependencies: ["InterlockTestSupport"]),
        .testTarget(name: "InterlockEngineTests", dependencies: ["InterlockEngine", "InterlockModel", "InterlockGit", "InterlockStore", "InterlockTestSupport"]),
    ]
)
