// swift-tools-version:6.0
import PackageDescription

// Module map: see README "Layout". Arrows point one way:
// Sampling (kernel -> values) <- Store (SQLite) <- Service (the daemon's core)
// <- API (routes) <- netstatd (flags, wiring); Rendering (values -> text) and HTTP
// (libmicrohttpd) beside them.
// Each C module is imported by exactly one Swift module.
let package = Package(
    name: "netstatd",
    products: [
        .executable(name: "netstatd", targets: ["netstatd"]),
    ],
    // No package dependencies: swift-argument-parser cost 4 MB of resident memory per
    // run (see Sources/netstatd/CommandLineOptions.swift).
    targets: [
        .systemLibrary(
            name: "CHttp", path: "CHttp", pkgConfig: "libmicrohttpd",
            providers: [.apt(["libmicrohttpd-dev"])]),
        .systemLibrary(
            name: "CSQLite", path: "CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CZlib", path: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Header-only: the kernel's netlink/inet_diag headers, which Glibc's Swift module lacks.
        .systemLibrary(name: "CNetlink", path: "CNetlink"),
        .target(name: "Sampling", dependencies: ["CNetlink"]),
        .target(name: "Rendering", dependencies: ["Sampling"]),
        .target(name: "HTTP", dependencies: ["CHttp", "CZlib"]),
        .target(name: "Store", dependencies: ["CSQLite", "Sampling"]),
        // The daemon's core: the sampling loop, the latest snapshot and counters, the
        // history writer, the event exporter (the event line's JSON writer, shared with
        // the /api/v1/events route; HTTP's client to send it). API answers from it;
        // netstatd wires it.
        .target(name: "Service", dependencies: ["Sampling", "Rendering", "HTTP", "Store"]),
        .target(name: "API", dependencies: ["Sampling", "Rendering", "HTTP", "Store", "Service"]),
        // Command-line flags (netstat-style clusters, long options, a --config file's
        // checks) and stdout/stderr, shared by the two executables.
        .target(name: "CommandLineOptions", dependencies: ["Rendering", "HTTP"]),
        .executableTarget(
            name: "netstatd",
            dependencies: ["Sampling", "Rendering", "HTTP", "API", "Store", "Service", "CommandLineOptions"]),
        // The benchmarks' measuring commands (bench/ drives them), kept out of the
        // shipped binary.
        .executableTarget(
            name: "netstatd-bench",
            dependencies: ["Sampling", "HTTP", "API", "Store", "Service", "CommandLineOptions"]),
        // Shared by the test targets: commands, namespaces, the socket zoo, ss parsing.
        .target(
            name: "TestSupport", dependencies: ["Sampling"], path: "Tests/TestSupport",
            resources: [.copy("zoo.py"), .copy("namespaces.py")]),
        .testTarget(
            name: "SamplingTests",
            dependencies: ["Sampling", "Rendering", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "RenderingTests",
            dependencies: ["Rendering", "Sampling"]),
        .testTarget(
            name: "StoreTests",
            dependencies: ["Store", "Sampling", "TestSupport"]),
        // With a receiver written in the test for the exporter, and ClickHouse's engine
        // (chdb) loading what it received.
        .testTarget(
            name: "ServiceTests",
            dependencies: ["Service", "HTTP", "Sampling", "Store", "TestSupport"],
            resources: [.copy("Fixtures")]),
        .testTarget(
            name: "APITests",
            dependencies: ["API", "HTTP", "Sampling", "Service", "Store", "TestSupport"],
            resources: [.copy("Fixtures")]),
        // The executable itself: --config and token files in-process; the real binary
        // under setpriv, with Prometheus, and (opt-in) installed from its .deb.
        .testTarget(
            name: "NetstatdTests",
            dependencies: ["netstatd", "API", "CommandLineOptions", "HTTP", "Sampling", "TestSupport"],
            resources: [.copy("Fixtures")]),
    ]
)

// Guard rails for every Swift target: `any` written where a type is existential, an
// import public only where a module's public face needs it, and members visible only
// from modules a file imports itself.
let strictness: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    .enableUpcomingFeature("MemberImportVisibility"),
]
for target in package.targets where target.type != .system {
    target.swiftSettings = (target.swiftSettings ?? []) + strictness
}
