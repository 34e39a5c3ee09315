// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "eni-agent",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "eni-agent", targets: ["eni-agent"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.8.1"),
    ],
    targets: [
        // libnl-3 route API. The only target that may import it is ENINetlink.
        .systemLibrary(
            name: "CNetlink",
            pkgConfig: "libnl-route-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]
        ),
        // Value types: MAC, IPv4, ENIs, instance, observed kernel state. No I/O.
        .target(name: "ENIModel"),
        // Pure planner: (desired, observed, config) -> Plan. Depends on the model only.
        .target(name: "ENIPlanner", dependencies: ["ENIModel"]),
        // Pure renderers: managed interfaces -> files (path -> content).
        .target(name: "ENIRender", dependencies: ["ENIModel"]),
        // libnl-3 behind Swift types: dump and change links, addresses, routes, rules.
        .target(name: "ENINetlink", dependencies: ["ENIModel", "CNetlink"]),
        // One reconcile pass: fetch -> observe -> plan -> apply; config, files, lock.
        .target(
            name: "ENIAgent",
            dependencies: [
                "ENIModel", "ENIPlanner", "ENIRender", "ENINetlink",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(
            name: "eni-agent",
            dependencies: [
                "ENIAgent", "ENIModel", "ENIPlanner",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(name: "ENIModelTests", dependencies: ["ENIModel"]),
        // CNetlink is listed for tests only because testable builds need every module the
        // libraries import internally; no test imports it.
        .testTarget(
            name: "ENIPlannerTests",
            dependencies: ["ENIModel", "ENIPlanner", "ENIRender", "ENIAgent", "CNetlink"],
            resources: [.copy("Golden")]
        ),
        .testTarget(name: "ENIAgentTests", dependencies: ["ENIAgent", "ENIModel", "ENIPlanner", "ENIRender", "ENINetlink", "CNetlink", "eni-agent"]),
    ],
    swiftLanguageModes: [.v6]
)
