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
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibGit2",
            pkgConfig: "libgit2",
            providers: [.apt(["libgit2-dev"])]
        ),
        .target(
            name: "InterlockGit",
            dependencies: ["CLibGit2"]
        ),
        .target(
            name: "InterlockModel",
            dependencies: [
                "InterlockGit",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Crypto", package: "swift-crypto"),
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
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(name: "audit-stress", dependencies: ["InterlockStore"]),
        .executableTarget(
            name: "interlock",
            dependencies: [
                "InterlockGit",
                "InterlockModel",
                "InterlockEngine",
                "InterlockStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "InterlockGitTests", dependencies: ["InterlockGit"]),
        .testTarget(name: "InterlockModelTests", dependencies: ["InterlockModel", "InterlockGit"]),
        .testTarget(
            name: "InterlockStoreTests",
            dependencies: ["InterlockStore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(name: "InterlockCLITests"),
        .testTarget(name: "InterlockEngineTests", dependencies: ["InterlockEngine", "InterlockModel", "InterlockGit", "InterlockStore"]),
    ]
)
