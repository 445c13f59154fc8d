#if canImport(Glibc)
import Glibc
#endif

/// `heyan` — the command line: `serve`, `pki`, `bench`.
let arguments = Array(CommandLine.arguments.dropFirst())
let exitCode: Int32
do {
    switch arguments.first {
    case "pki":
        exitCode = try PKICommand.run(arguments: Array(arguments.dropFirst()))
    case "bench" where arguments.dropFirst().first == "signing":
        exitCode = try SigningBenchmarkCommand.run(arguments: Array(arguments.dropFirst(2)))
    default:
        print("usage: heyan pki|bench signing …")
        exitCode = 2
    }
} catch {
    let text = "heyan: \(error)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exitCode = 1
}
exit(exitCode)
