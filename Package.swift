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
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    ],
    targets: [
        // libnl-3 route API. The only target that may import it is ENINetlink.
        .systemLibrary(
            name: "CNetlink",
            pkgConfig: "libnl-route-3.0",
            providers: [.apt(["libnl-3-dev", "libnl-route-3-dev"])]
        ),
        // libcurl. The only target that may import it is ENIHTTP.
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        // Linux system calls Swift's Glibc module lacks (signalfd, setns), from the system headers.
        .target(name: "CLinux"),
        // Value types: MAC, IPv4, ENIs, instance, observed kernel state. No I/O.
        .target(name: "ENIModel"),
        // Pure planner: (desired, observed, config) -> Plan. Depends on the model only.
        .target(name: "ENIPlanner", dependencies: ["ENIModel"]),
        // Pure renderers: managed interfaces -> files (path -> content).
        .target(name: "ENIRender", dependencies: ["ENIModel"]),
        // libnl-3 behind Swift types: dump and change links, addresses, routes, rules.
        .target(name: "ENINetlink", dependencies: ["ENIModel", "CNetlink", "CLinux"]),
        // HTTP behind Swift types: libcurl's multi interface, timeouts, size cap, typed errors.
        .target(name: "ENIHTTP", dependencies: ["CCurl"]),
        // Cloud metadata providers (Tencent, Alibaba, AWS, auto): HTTP tree -> Instance, with
        // retries, deadlines, validation, pending MACs and caches.
        .target(name: "ENIMetadata", dependencies: ["ENIModel", "ENIHTTP"]),
        // Carrying out a plan on this machine, and reading back the state it applies to: the
        // kernel (libnl's Netlink behind the `Kernel` protocol), sysctls, files below the root,
        // the lock, udev's view of the links.
        .target(
            name: "ENIApply",
            dependencies: [
                "ENIModel", "ENIPlanner", "ENINetlink",
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        // A D-Bus client of the agent's own (a Unix socket, SASL EXTERNAL, the wire format) and the
        // part of NetworkManager's API the agent calls after writing its keyfiles.
        .target(
            name: "ENIDBus",
            dependencies: [.product(name: "SystemPackage", package: "swift-system")]
        ),
        // One reconcile pass: fetch -> observe -> plan -> apply; the config (TOML, keys, flags).
        .target(
            name: "ENIAgent",
            dependencies: ["ENIModel", "ENIPlanner", "ENIRender", "ENIApply", "ENIMetadata", "ENIDBus"]
        ),
        // The service: one thread, one poll loop over netlink and signals; per-ENI waiting;
        // systemd notifications; the syslog-prefixed log.
        .target(
            name: "ENIDaemon",
            dependencies: [
                "ENIModel", "ENIPlanner", "ENINetlink", "ENIApply", "ENIAgent", "CLinux",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .executableTarget(
            name: "eni-agent",
            dependencies: [
                "ENIAgent", "ENIDaemon", "ENIApply", "ENIMetadata", "ENIModel", "ENIPlanner", "ENIRender",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Test support, never shipped: a metadata server for the three clouds' trees with fault
        // injection, as a library (in-process in the tests) and as an executable (demo, scripts).
        .target(name: "MetadataSimulator"),
        .executableTarget(name: "eni-metadata-sim", dependencies: ["MetadataSimulator"]),
        .testTarget(name: "ENIModelTests", dependencies: ["ENIModel"]),
        // The planner's own tests: the model and the planner, nothing else.
        .testTarget(name: "ENIPlannerTests", dependencies: ["ENIModel", "ENIPlanner"]),
        // Plan and files end to end: the golden cases and the planner's safety checks with the
        // renderers the agent ships (ENIPlannerTests lends its checks and its simulated kernel).
        .testTarget(
            name: "ENIGoldenTests",
            dependencies: ["ENIModel", "ENIPlanner", "ENIRender", "ENIPlannerTests"],
            resources: [.copy("Golden")]
        ),
        // CNetlink, CCurl and CLinux are listed for tests only because testable builds need every
        // module the libraries import internally; no test imports them.
        .testTarget(name: "ENIAgentTests", dependencies: ["ENIAgent", "ENIApply", "ENIDaemon", "ENIMetadata", "ENIModel", "ENIPlanner", "ENIRender", "ENINetlink", "ENIDBus", "CNetlink", "CCurl", "CLinux", "eni-agent"]),
        // The D-Bus client against a private dbus-daemon and a fake NetworkManager on it.
        .testTarget(name: "ENIDBusTests", dependencies: ["ENIDBus"]),
        .testTarget(
            name: "ENIMetadataTests",
            dependencies: ["ENIMetadata", "ENIHTTP", "ENIModel", "CCurl", "MetadataSimulator"]),
    ],
    swiftLanguageModes: [.v6]
)
