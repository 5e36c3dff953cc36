// swift-tools-version: 6.1
// package-benchmark suites for swift-elmo's hot paths (time and malloc counts).
// A separate package so that its build cost stays out of the main build and of `swift test`.
// Run from this directory: swift package benchmark
import Foundation
import PackageDescription

/// A path dependency is identified by its directory's name (the clone's, e.g. "swift-elmo" or "main").
let root = URL(fileURLWithPath: Context.packageDirectory).deletingLastPathComponent().lastPathComponent.lowercased()

let package = Package(
    name: "swift-elmo-benchmarks",
    dependencies: [
        .package(path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
    ],
    targets: [
        .executableTarget(
            name: "HotPaths",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Framework", package: root),
                .product(name: "Models", package: root),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
