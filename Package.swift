// swift-tools-version:6.0
import PackageDescription

// One place for the settings every Swift target shares: Swift 6 mode, strict concurrency.
let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "toolformerd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "toolformerd", targets: ["toolformerd"]),
        .executable(name: "toolformerctl", targets: ["toolformerctl"]),
        .executable(name: "toolformer-bench", targets: ["toolformer-bench"]),
        .library(name: "ToolformerProtocol", targets: ["ToolformerProtocol"]),
        .library(name: "ToolformerClient", targets: ["ToolformerClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.0"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-system.git", from: "1.4.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.1.0"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/modelcontextprotocol/swift-sdk.git", from: "0.12.1"),
    ],
    targets: [
        // C libraries, through pkg-config.
        .systemLibrary(name: "CJSONC", pkgConfig: "json-c", providers: [.apt(["libjson-c-dev"])]),
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd", providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Small C declarations Swift cannot see through Glibc (struct ucred hides behind _GNU_SOURCE).
        .target(name: "CToolformerShims"),

        // Wire format: JSON value, json-c reader, Swift writer, JSON-RPC messages, error codes. No NIO.
        .target(
            name: "ToolformerProtocol",
            dependencies: ["CJSONC"],
            swiftSettings: swiftSettings
        ),
        // A blocking Unix-socket client for toolformerctl, tests and the benchmark. No NIO.
        .target(
            name: "ToolformerClient",
            dependencies: ["ToolformerProtocol"],
            swiftSettings: swiftSettings
        ),
        // Configuration, the method router, tools and the orchestrator. No I/O framework.
        .target(
            name: "ToolformerCore",
            dependencies: [
                "ToolformerProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "TOMLKit", package: "TOMLKit"),
                .product(name: "DequeModule", package: "swift-collections"),
                "CZlib",
            ],
            swiftSettings: swiftSettings
        ),
        // The one HTTP client every tool and provider shares, run as a Service.
        .target(
            name: "ToolformerHTTP",
            dependencies: [
                "ToolformerCore",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Tool kinds that do I/O: exec (subprocesses), http, and the http_get builtin.
        .target(
            name: "ToolformerTools",
            dependencies: [
                "ToolformerProtocol",
                "ToolformerCore",
                "ToolformerHTTP",
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // MCP servers as tool sources: spawned, supervised, their tools imported into the registry.
        .target(
            name: "ToolformerMCP",
            dependencies: [
                "ToolformerProtocol",
                "ToolformerCore",
                "ToolformerHTTP",
                .product(name: "MCP", package: "swift-sdk"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // LLM API clients (OpenAI-compatible, Anthropic) on the shared HTTP client.
        .target(
            name: "ToolformerProviders",
            dependencies: [
                "ToolformerCore", "ToolformerProtocol", "ToolformerHTTP",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Cache tiers behind the core's CacheStore protocol that do I/O: the on-disk tier.
        .target(
            name: "ToolformerStorage",
            dependencies: [
                "ToolformerCore", "ToolformerProtocol", "CZlib",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Redis for daemons that share a [cluster]: a small RESP client on SwiftNIO, and the shared
        // cache tier, single-flight leases and rate limits behind the core's protocols.
        .target(
            name: "ToolformerRedis",
            dependencies: [
                "ToolformerCore", "ToolformerProtocol",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // systemd: sd_notify, watchdog, socket activation, journald.
        .target(
            name: "ToolformerSystemd",
            dependencies: [
                "CSystemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The socket server: the only NIO code in the daemon.
        .target(
            name: "ToolformerServer",
            dependencies: [
                "ToolformerProtocol",
                "ToolformerCore",
                "CToolformerShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // Prometheus metrics: the hot-path events on swift-metrics, daemon/status read at scrape time,
        // daemon/metrics and the optional loopback /metrics HTTP listener.
        .target(
            name: "ToolformerMetrics",
            dependencies: [
                "ToolformerCore",
                "ToolformerProtocol",
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "toolformerd",
            dependencies: [
                "ToolformerProtocol",
                "ToolformerCore",
                "ToolformerServer",
                "ToolformerSystemd",
                "ToolformerHTTP",
                "ToolformerTools",
                "ToolformerStorage",
                "ToolformerProviders",
                "ToolformerMetrics",
                "ToolformerRedis",
                "ToolformerMCP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "toolformerctl",
            dependencies: [
                "ToolformerProtocol",
                "ToolformerClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        // The benchmark: scenarios against a real daemon, and a C line-echo server as the reference.
        .executableTarget(
            name: "toolformer-bench",
            dependencies: [
                "ToolformerProtocol", "ToolformerClient", "ToolformerTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "toolformer-echo-reference"),
        // The fuzz target over the line decoder and the request parser: a corpus replayer in a
        // normal build, a libFuzzer binary when built by .ci/fuzz.
        .executableTarget(
            name: "toolformer-fuzz",
            dependencies: [
                "ToolformerProtocol", "ToolformerServer", "CToolformerShims",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        // A real MCP server (the Swift SDK's Server over stdio) that the daemon's tests import tools from.
        .executableTarget(
            name: "toolformer-mcp-testserver",
            dependencies: [.product(name: "MCP", package: "swift-sdk")],
            swiftSettings: swiftSettings
        ),
        // The trait the end-to-end test suites share: a thread of their own and a slot of the machine.
        .target(
            name: "ToolformerTestTraits",
            dependencies: ["ToolformerTesting"],
            swiftSettings: swiftSettings
        ),
        // Shared by tests and the benchmark: the real daemon on a temporary socket, a notify listener.
        .target(
            name: "ToolformerTesting",
            dependencies: [
                "ToolformerProtocol", "ToolformerClient", "CToolformerShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),

        .testTarget(name: "ToolformerProtocolTests", dependencies: ["ToolformerProtocol"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ToolformerCoreTests",
            dependencies: ["ToolformerCore", "ToolformerTesting", .product(name: "Logging", package: "swift-log")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ToolformerToolsTests",
            dependencies: [
                "ToolformerTools", "ToolformerHTTP", "ToolformerCore", "ToolformerProtocol", "ToolformerTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ToolformerProvidersTests",
            dependencies: [
                "ToolformerProviders", "ToolformerHTTP", "ToolformerCore", "ToolformerProtocol", "ToolformerTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ToolformerStorageTests",
            dependencies: [
                "ToolformerStorage", "ToolformerCore", "ToolformerProtocol", "ToolformerTesting",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ToolformerRedisTests",
            dependencies: [
                "ToolformerRedis", "ToolformerCore", "ToolformerProtocol", "ToolformerTesting", "ToolformerTestTraits",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ToolformerBenchTests",
            dependencies: ["ToolformerTesting", "ToolformerProtocol"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ToolformerSystemdTests",
            dependencies: [
                "ToolformerSystemd", "ToolformerTesting",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ToolformerMetricsTests",
            dependencies: [
                "ToolformerMetrics", "ToolformerCore", "ToolformerProtocol",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ToolformerMCPTests",
            dependencies: ["ToolformerMCP", "ToolformerCore", "ToolformerProtocol", .product(name: "MCP", package: "swift-sdk")],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ToolformerDaemonTests",
            dependencies: ["ToolformerProtocol", "ToolformerClient", "ToolformerTesting", "ToolformerTestTraits"],
            swiftSettings: swiftSettings
        ),
    ]
)
