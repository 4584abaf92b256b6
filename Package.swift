// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "Interlock",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "interlock", targets: ["interlock"]),
        .library(name: "InterlockGit", targets: ["InterlockGit"]),
        .library(name: "InterlockModel", targets: ["InterlockModel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
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
        .executableTarget(
            name: "interlock",
            dependencies: [
                "InterlockGit",
                "InterlockModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "InterlockGitTests", dependencies: ["InterlockGit"]),
        .testTarget(name: "InterlockModelTests", dependencies: ["InterlockModel", "InterlockGit"]),
    ]
)
