// swift-tools-version:6.0
// heyan (核验): inter-department certificate verification service.
// No SwiftPM package dependencies: OpenSSL, SQLite and libpq come from the system through
// the `COpenSSL`, `CSQLite` and `CPostgres` system-library targets.
import PackageDescription

let package = Package(
    name: "heyan",
    products: [
        .executable(name: "heyan", targets: ["heyan"])
    ],
    targets: [
        // C libraries from the system: only a module map and a shim of static inline wrappers each.
        .systemLibrary(
            name: "COpenSSL", path: "Sources/COpenSSL", pkgConfig: "openssl",
            providers: [.apt(["libssl-dev"])]),
        .systemLibrary(
            name: "CSQLite", path: "Sources/CSQLite", pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(
            name: "CPostgres", path: "Sources/CPostgres", pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]),

        // SQLite's process-wide setup in C: memory statistics off, its page cache with the lock page's number kept out,
        // and the default VFS with the WAL's appends gathered into one write per commit (docs/storage.md,
        // "Process-wide settings", "Page cache", "WAL writes").
        .target(name: "CSQLiteProcess", dependencies: ["CSQLite"], path: "Sources/CSQLiteProcess"),

        // Linux interfaces Swift's Glibc module leaves out (epoll, eventfd, accept4).
        .systemLibrary(name: "CLinux", path: "Sources/CLinux"),

        // Pure domain: vocabulary, identifiers, catalog, configuration models. No C, no I/O.
        .target(name: "HeyanDomain"),
        // Named POSIX threads: the one wrapper of pthread_create (HTTP loops, store threads, bench workers).
        .target(name: "HeyanThreads", dependencies: ["CLinux"]),
        // OpenSSL wrappers: keys, certificates, chain verification, JWS, development PKI.
        .target(name: "HeyanCrypto", dependencies: ["HeyanDomain", "COpenSSL"]),
        // SQLite wrappers, migrations and the embedded store.
        .target(
            name: "HeyanStorage", dependencies: ["HeyanDomain", "HeyanThreads", "HeyanTransparencyLog", "CSQLite", "CSQLiteProcess", "CLinux"]),
        // libpq wrappers: connections, typed results, errors with SQLSTATE, pipeline mode, LISTEN/NOTIFY, migrations.
        .target(name: "HeyanPostgres", dependencies: ["HeyanDomain", "CPostgres"]),
        // The PostgreSQL store: every store protocol on a database several nodes share.
        .target(
            name: "HeyanPostgresStore",
            dependencies: ["HeyanDomain", "HeyanCrypto", "HeyanPostgres", "HeyanTransparencyLog"]),
        // The engine choice: opens the store a configuration names (SQLite or PostgreSQL), the only module that knows both.
        .target(name: "HeyanStores", dependencies: ["HeyanDomain", "HeyanStorage", "HeyanPostgresStore", "HeyanTransparencyLog"]),
        // The audit log's Merkle tree (RFC 6962/9162), proofs, C2SP checkpoints and signed notes. No I/O.
        .target(name: "HeyanTransparencyLog", dependencies: ["HeyanCrypto"]),
        // What people see: HTML escaping, QR codes and drawings for the clerks' console and printouts. Pure.
        .target(name: "HeyanPresentation"),
        // HTTP/1.1 parser and serializer, TLS connections, the event loops.
        .target(name: "HeyanHTTP", dependencies: ["HeyanDomain", "HeyanCrypto", "HeyanThreads", "COpenSSL", "CLinux"]),
        // An outside witness of the audit log (C2SP tlog-witness): cosigns checkpoints that extend the last one.
        .target(name: "HeyanWitness", dependencies: ["HeyanTransparencyLog", "HeyanCrypto", "HeyanHTTP"]),
        // The service: configuration loading, routes, metrics, logging.
        .target(
            name: "HeyanServer",
            dependencies: [
                "HeyanDomain", "HeyanCrypto", "HeyanStorage", "HeyanStores", "HeyanTransparencyLog", "HeyanHTTP",
                "HeyanPresentation",
            ]),
        // The load generator behind `heyan bench` (mTLS, closed and open loop, histograms).
        .target(name: "HeyanBench", dependencies: ["HeyanDomain", "HeyanCrypto", "HeyanHTTP", "HeyanThreads", "COpenSSL", "CLinux"]),
        // The `heyan` command line.
        .executableTarget(
            name: "heyan",
            dependencies: [
                "HeyanServer", "HeyanCrypto", "HeyanDomain", "HeyanHTTP", "HeyanStorage", "HeyanStores", "HeyanBench",
                "HeyanWitness", "HeyanTransparencyLog",
            ]),

        // Shared by the test targets: a PKI made per run, temporary directories, subprocesses.
        .target(
            name: "HeyanTestSupport", dependencies: ["HeyanDomain", "HeyanCrypto", "HeyanHTTP", "CLinux"], path: "Tests/HeyanTestSupport",
            exclude: ["python"]),

        .testTarget(name: "HeyanDomainTests", dependencies: ["HeyanDomain", "HeyanTestSupport"]),
        .testTarget(name: "HeyanCryptoTests", dependencies: ["HeyanCrypto", "COpenSSL", "HeyanTestSupport"]),
        .testTarget(name: "HeyanPostgresTests", dependencies: ["HeyanPostgres", "HeyanTestSupport"]),
        .testTarget(
            name: "HeyanStorageTests",
            dependencies: [
                "HeyanStorage", "HeyanStores", "HeyanPostgres", "HeyanPostgresStore", "HeyanTransparencyLog", "CSQLite",
                "CSQLiteProcess", "HeyanCrypto", "HeyanThreads", "HeyanTestSupport",
            ]),
        .testTarget(
            name: "HeyanTransparencyLogTests", dependencies: ["HeyanTransparencyLog", "HeyanCrypto", "HeyanTestSupport"],
            exclude: ["tlog-vectors"]),
        .testTarget(name: "HeyanPresentationTests", dependencies: ["HeyanPresentation", "HeyanTestSupport"]),
        .testTarget(
            name: "HeyanWitnessTests",
            dependencies: ["HeyanWitness", "HeyanTransparencyLog", "HeyanHTTP", "HeyanCrypto", "HeyanTestSupport"]),
        .testTarget(name: "HeyanHTTPTests", dependencies: ["HeyanHTTP", "HeyanCrypto", "COpenSSL", "HeyanTestSupport"]),
        .testTarget(name: "HeyanBenchTests", dependencies: ["HeyanBench", "HeyanServer", "HeyanTestSupport"]),
        .testTarget(
            name: "HeyanServerTests",
            dependencies: [
                "HeyanServer", "HeyanHTTP", "HeyanCrypto", "HeyanDomain", "HeyanStorage", "HeyanStores", "HeyanPostgresStore",
                "HeyanTransparencyLog", "COpenSSL", "HeyanTestSupport",
            ]),
    ],
    swiftLanguageModes: [.v6]
)

// libFuzzer targets (Tests/Fuzz, docs/fuzzing.md). Declared only when HEYAN_FUZZ=1: `make fuzz` sets it and builds
// them with `--sanitize=fuzzer --sanitize=address` into .build-fuzz, so every module they use is instrumented too;
// ordinary builds and `swift test` never see them.
if Context.environment["HEYAN_FUZZ"] == "1" {
    package.targets += [
        .executableTarget(name: "FuzzHTTPParser", dependencies: ["HeyanHTTP"], path: "Tests/Fuzz/FuzzHTTPParser"),
        .executableTarget(name: "FuzzRequestJSON", dependencies: ["HeyanDomain"], path: "Tests/Fuzz/FuzzRequestJSON"),
        .executableTarget(name: "FuzzJWS", dependencies: ["HeyanCrypto", "HeyanDomain"], path: "Tests/Fuzz/FuzzJWS"),
        .executableTarget(
            name: "FuzzConfiguration", dependencies: ["HeyanDomain", "HeyanCrypto"], path: "Tests/Fuzz/FuzzConfiguration"),
    ]
}
