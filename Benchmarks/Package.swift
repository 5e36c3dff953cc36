// swift-tools-version: 6.1
// package-benchmark suites for swift-elmo's hot paths (time and malloc counts).
// A separate package so that its build cost stays out of the main build and of `swift test`.
// Run from this directory: swift package benchmark
import PackageDescription

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
                .product(name: "Framework", package: "swift-elmo"),
                .product(name: "Models", package: "swift-elmo"),
            ],
            path: "Benchmarks/HotPaths",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
