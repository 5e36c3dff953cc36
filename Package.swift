// swift-tools-version: 6.1
// swift-elmo: ELMo (Peters et al. 2018) pretraining and use on the CPU, over OpenBLAS.
import PackageDescription

let package = Package(
    name: "swift-elmo",
    products: [
        .library(name: "Framework", targets: ["Framework"]),
        .library(name: "Models", targets: ["Models"]),
        .library(name: "Heads", targets: ["Heads"]),
        .library(name: "Optimizers", targets: ["Optimizers"]),
        .executable(name: "elmo", targets: ["elmo"]),
        .executable(name: "elmo-serve", targets: ["elmo-serve"]),
        .executable(name: "bench", targets: ["bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-numerics", from: "1.0.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
    ],
    targets: [
        // MARK: - System libraries

        /// OpenBLAS's `cblas.h` (+ `openblas_*` runtime calls) and LAPACKE.
        .systemLibrary(
            name: "COpenBLAS",
            path: "Sources/COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),

        /// HDF5's C API (Debian's serial build), for reading AllenNLP weight files.
        .systemLibrary(
            name: "CHDF5",
            path: "Sources/CHDF5",
            pkgConfig: "hdf5",
            providers: [.apt(["libhdf5-dev"])]
        ),

        /// oneDNN's C API: matrix products with weights packed once, in float32 or bfloat16 (AVX512-BF16, AMX).
        .systemLibrary(
            name: "CDNNL",
            path: "Sources/CDNNL",
            providers: [.apt(["libdnnl-dev"])]
        ),

        // MARK: - Libraries

        /// Elementwise float32 kernels (softmax rows, σ, tanh) in C, with an AVX2+FMA variant chosen at run time.
        .target(name: "CKernels", path: "Sources/CKernels", exclude: ["kernels_body.h"]),

        /// Tensors, BLAS, kernels, RNG, parameters, generic layers, registry, safetensors, checkpoints.
        .target(
            name: "Framework",
            dependencies: [
                "COpenBLAS", "CKernels", "CDNNL",
                .product(name: "RealModule", package: "swift-numerics"),
            ]
        ),
        /// The ELMo bidirectional language model and the encoders built on it.
        .target(name: "Models", dependencies: ["Framework"]),
        /// Classification heads over per-token vectors.
        .target(name: "Heads", dependencies: ["Framework"]),
        /// SGD (momentum), Adagrad, Adam.
        .target(name: "Optimizers", dependencies: ["Framework"]),

        /// Other projects' formats: AllenNLP / bilm-tf ELMo weights (hdf5).
        .target(name: "Interop", dependencies: ["Framework", "Models", "CHDF5"]),

        /// `elmo serve`: the embedder behind HTTP (Hummingbird 2), with dynamic batching, limits and Prometheus metrics.
        .target(
            name: "Serving",
            dependencies: [
                "Framework", "Models", "Interop",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),

        /// Exit codes and one-line errors for the command-line programs.
        .target(
            name: "CLISupport",
            dependencies: ["Framework", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),

        // MARK: - Executables

        .executableTarget(
            name: "elmo",
            dependencies: [
                "Framework", "Models", "Heads", "Optimizers", "CLISupport", "Interop",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        /// `elmo serve` (which runs this program): kept apart so that `elmo` builds without the HTTP stack.
        .executableTarget(
            name: "elmo-serve",
            dependencies: [
                "Framework", "Models", "CLISupport", "Serving",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "bench",
            dependencies: [
                "Framework", "Models", "Heads", "Optimizers", "CLISupport",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),

        // MARK: - Tests

        /// Shared test helpers: the Float64 gradient checker, approximate comparison, fixture paths, random-weight checkpoints.
        .target(name: "TestSupport", dependencies: ["Framework", "Models"], path: "Tests/TestSupport"),
        .testTarget(
            name: "GradCheck",
            dependencies: ["Framework", "Models", "Heads", "Optimizers", "TestSupport"]
        ),
        .testTarget(
            name: "Golden",
            dependencies: ["Framework", "Models", "Heads", "Optimizers", "TestSupport", "Interop"],
            exclude: ["generate", "Resources"]
        ),
        .testTarget(
            name: "UnitTests",
            dependencies: ["Framework", "Models", "Heads", "Optimizers", "TestSupport", "Interop", "CKernels"]
        ),
        .testTarget(
            name: "ServingTests",
            dependencies: [
                "Framework", "Models", "Interop", "Serving", "TestSupport",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
    ]
)
