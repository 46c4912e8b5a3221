// swift-tools-version: 6.0
import PackageDescription

// Dependency direction (each module imports only those to its left):
// TweedieRandom, COpenBLAS → TweedieLinearAlgebra → TweedieDistributions → TweedieDiffusion (with the
//   DenoisingModel protocol) → TweedieOracle, TweedieSamplers (side by side) → TweedieInverse → TweedieEvaluation
//   (metrics, exact sampler laws) → TweedieRuns (requests, studies) → TweedieIO (files) → TweedieCharts
//   → Tweedie (umbrella) → tweedie (CLI), TweedieC (C ABI)
let package = Package(
    name: "Tweedie",
    products: [
        .library(name: "Tweedie", targets: ["Tweedie"]),
        .executable(name: "tweedie", targets: ["TweedieCLI"]),
        .executable(name: "tweedie-benchmarks", targets: ["TweedieBenchmarks"]),
        // The C ABI the Python package loads (libTweedieC.so).
        .library(name: "TweedieC", type: .dynamic, targets: ["TweedieC"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/weichsel/ZIPFoundation", from: "0.9.19"),
        // The explorer's local HTTP server (tweedie explore): small, no dependencies of its own.
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
    ],
    targets: [
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev", "liblapacke-dev", "pkg-config"])]),
        .target(name: "TweedieRandom"),
        .target(name: "TweedieLinearAlgebra", dependencies: ["COpenBLAS"]),
        .target(name: "TweedieDistributions", dependencies: ["TweedieRandom", "TweedieLinearAlgebra"]),
        .target(name: "TweedieDiffusion",
                dependencies: ["TweedieRandom", "TweedieLinearAlgebra", "TweedieDistributions"]),
        .target(name: "TweedieOracle",
                dependencies: ["TweedieRandom", "TweedieLinearAlgebra", "TweedieDistributions", "TweedieDiffusion"]),
        .target(name: "TweedieSamplers",
                dependencies: ["TweedieRandom", "TweedieLinearAlgebra", "TweedieDistributions", "TweedieDiffusion"]),
        .target(name: "TweedieInverse",
                dependencies: ["TweedieLinearAlgebra", "TweedieDistributions", "TweedieDiffusion", "TweedieOracle",
                               "TweedieSamplers"]),
        .target(name: "TweedieEvaluation",
                dependencies: ["TweedieRandom", "TweedieLinearAlgebra", "TweedieDistributions", "TweedieDiffusion",
                               "TweedieOracle", "TweedieSamplers", "TweedieInverse"]),
        // Runs and studies: the sampling request every door builds, sampler studies and their reports,
        // inverse-problem studies.
        .target(name: "TweedieRuns",
                dependencies: ["TweedieRandom", "TweedieLinearAlgebra", "TweedieDistributions", "TweedieDiffusion",
                               "TweedieOracle", "TweedieSamplers", "TweedieInverse", "TweedieEvaluation"]),
        .target(name: "TweedieIO",
                dependencies: ["TweedieLinearAlgebra", "TweedieDistributions",
                               .product(name: "ZIPFoundation", package: "ZIPFoundation")]),
        // Charts: SVG plots of samples over exact densities, and the charts of studies.
        .target(name: "TweedieCharts",
                dependencies: ["TweedieLinearAlgebra", "TweedieDistributions", "TweedieDiffusion", "TweedieOracle",
                               "TweedieEvaluation", "TweedieRuns", "TweedieIO"]),
        .target(name: "Tweedie",
                dependencies: ["TweedieRandom", "TweedieLinearAlgebra", "TweedieDistributions",
                               "TweedieDiffusion", "TweedieOracle", "TweedieSamplers", "TweedieInverse", "TweedieEvaluation",
                               "TweedieRuns", "TweedieIO", "TweedieCharts"]),
        // Explore/ holds the explorer's page (HTML, script, style) and the vendored plotly.js with its licence.
        .executableTarget(name: "TweedieCLI",
                          dependencies: ["Tweedie",
                                         .product(name: "ArgumentParser", package: "swift-argument-parser"),
                                         .product(name: "FlyingFox", package: "FlyingFox"),
                                         .product(name: "FlyingSocks", package: "FlyingFox")],
                          resources: [.copy("Explore")]),
        .executableTarget(name: "TweedieBenchmarks", dependencies: ["Tweedie"]),
        .target(name: "TweedieC", dependencies: ["Tweedie"]),
        .testTarget(name: "TweedieTests", dependencies: ["Tweedie"],
                    resources: [.copy("Fixtures")]),
        .testTarget(name: "TweedieCLITests", dependencies: ["Tweedie"], exclude: ["Hostile"]),
    ]
)
