// swift-tools-version: 6.0
import PackageDescription

// libFuzzer targets for Tweedie's parsers. Each target defines LLVMFuzzerTestOneInput and is built
// with `swift build --sanitize=fuzzer --sanitize=address` (libFuzzer supplies main); `make fuzz`
// in the repository root builds and runs them for a bounded time each, over fuzz/corpus/<target>.
let fuzzer: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]

let package = Package(
    name: "TweedieFuzz",
    dependencies: [.package(name: "Tweedie", path: "..")],
    targets: [
        .executableTarget(name: "FuzzNPY", dependencies: [.product(name: "Tweedie", package: "Tweedie")],
                          swiftSettings: fuzzer),
        .executableTarget(name: "FuzzNPZ", dependencies: [.product(name: "Tweedie", package: "Tweedie")],
                          swiftSettings: fuzzer),
        .executableTarget(name: "FuzzJSON", dependencies: [.product(name: "Tweedie", package: "Tweedie")],
                          swiftSettings: fuzzer),
        .executableTarget(name: "FuzzSchedule", dependencies: [.product(name: "Tweedie", package: "Tweedie")],
                          swiftSettings: fuzzer),
        .executableTarget(name: "FuzzRequest", dependencies: [.product(name: "Tweedie", package: "Tweedie")],
                          swiftSettings: fuzzer),
        .executableTarget(name: "FuzzPNG", dependencies: [.product(name: "Tweedie", package: "Tweedie")],
                          swiftSettings: fuzzer),
        .executableTarget(name: "FuzzMolecules", dependencies: [.product(name: "Tweedie", package: "Tweedie")],
                          swiftSettings: fuzzer),
        .executableTarget(name: "FuzzExplore", dependencies: [.product(name: "Tweedie", package: "Tweedie")],
                          swiftSettings: fuzzer),
    ]
)
