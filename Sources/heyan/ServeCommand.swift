#if canImport(Glibc)
import Glibc
#endif
import HeyanDomain
import HeyanServer

/// `heyan serve --config FILE [--listen HOST:PORT] [--database PATH] [--log-level LEVEL]`
enum ServeCommand {
    static let usage = "usage: heyan serve --config FILE [--listen HOST:PORT] [--database PATH]"

    static func run(arguments: [String]) throws -> Int32 {
        // Block the signals heyan handles before any thread starts, so every thread inherits the
        // mask and only `sigwait` below sees them.
        var signals = sigset_t()
        sigemptyset(&signals)
        for signal in [SIGTERM, SIGINT, SIGHUP] { sigaddset(&signals, signal) }
        pthread_sigmask(SIG_BLOCK, &signals, nil)
        Glibc.signal(SIGPIPE, SIG_IGN)

        let options = try CommandLineOptions(arguments, valued: ["--config", "--listen", "--database", "--log-level"])
        let configPath = options["--config"] ?? "config/heyan.json"
        var configuration = try ConfigurationLoader.load(path: configPath)
        if let listen = options["--listen"] { configuration.service.listen = try ListenAddress(parsing: listen) }
        if let database = options["--database"] {
            // Parsed for the configured engine (or inferred): a URI is never taken as a relative file path.
            _ = try StoreConfiguration(engine: configuration.service.storeEngine, database: database)
            configuration.service.database = database
        }
        let level: EventLog.Level
        switch options["--log-level"] ?? "info" {
        case "debug": level = .debug
        case "warning": level = .warning
        case "error": level = .error
        default: level = .info
        }
        let log = EventLog(minimumLevel: level)
        log.startFlusher()
        let runtime = try ServiceRuntime(configuration: configuration, log: log)
        try runtime.start()
        log.flush()
        while true {
            var received: Int32 = 0
            guard sigwait(&signals, &received) == 0 else { continue }
            if received == SIGHUP {
                runtime.reload()
                continue
            }
            runtime.stop(grace: 10)
            return 0
        }
    }
}
