#if canImport(Glibc)
import Glibc
#endif

/// `heyan` — the command line: `serve`, `pki`, `bench`.
let usage = """
    usage: heyan <command> [options]

      serve --config FILE [--listen HOST:PORT] [--database PATH] [--log-level debug|info|warning|error]
            run the mTLS API server (SIGHUP reloads certificates, CRL, signing key and calendar; SIGTERM stops gracefully)
      pki init --out DIR --departments FILE [--algorithm ec-p256|ed25519]
            make a development PKI (CA, server, attestation signer, one certificate per department, CRL)
      pki issue --out DIR --department CODE
            add a department certificate to a development PKI
      pki revoke --out DIR CERT.pem
            add a certificate to the development PKI's CRL
      attestation verify FILE|- --trust CA.pem [--online https://HOST:PORT --cert CERT --key KEY]
            check an attestation's signature, chain and validity window offline (and its status online)
      audit verify --database PATH [--trust CA.pem]
            recompute the audit hash chain and check every signed checkpoint
      backup --database FILE --out FILE
            an online backup of an SQLite database, consistent while heyan serve writes (never overwrites)
      catalog publish --format html|csv|json [--database PATH [--version N]] [--config-dir DIR] [--out FILE]
            the public list of certificate items: one table per department, cancelled items with reasons
      stats --database PATH --format csv|json [--from T] [--to T] [--out FILE]
            requests, answer times, overdue, complaints per department and type; the exemption table
      witness init --state DIR --name NAME | witness serve --state DIR --name NAME --log-vkey VKEY …
            an outside witness of the audit log: cosigns checkpoints that extend the last one (C2SP tlog-witness)
      demo [--config-dir DIR]
            start heyan on a free port with a temporary PKI and database and play the main flows
      bench signing [--seconds S] [--json]
            heyan's JWS signatures/s next to `openssl speed` on this machine
      bench [--scenario healthz|url|handshake|data-sharing|queue|idle] (--certs DIR | --ca --cert --key) …
            mTLS load generator: requests/s, latency percentiles, errors by kind (heyan bench --help)
    """
let arguments = Array(CommandLine.arguments.dropFirst())
let exitCode: Int32
do {
    switch arguments.first {
    case "serve":
        exitCode = try ServeCommand.run(arguments: Array(arguments.dropFirst()))
    case "pki":
        exitCode = try PKICommand.run(arguments: Array(arguments.dropFirst()))
    case "catalog":
        exitCode = try CatalogCommand.run(arguments: Array(arguments.dropFirst()))
    case "stats":
        exitCode = try StatsCommand.run(arguments: Array(arguments.dropFirst()))
    case "demo":
        exitCode = try DemoCommand.run(arguments: Array(arguments.dropFirst()))
    case "attestation":
        exitCode = try AttestationCommand.run(arguments: Array(arguments.dropFirst()))
    case "backup":
        exitCode = try BackupCommand.run(arguments: Array(arguments.dropFirst()))
    case "audit":
        exitCode = try AuditCommand.run(arguments: Array(arguments.dropFirst()))
    case "witness":
        exitCode = try WitnessCommand.run(arguments: Array(arguments.dropFirst()))
    case "bench" where arguments.dropFirst().first == "signing":
        exitCode = try SigningBenchmarkCommand.run(arguments: Array(arguments.dropFirst(2)))
    case "bench":
        exitCode = try BenchCommand.run(arguments: Array(arguments.dropFirst()))
    default:
        print(usage)
        exitCode = 2
    }
} catch {
    let text = "heyan: \(error)\n"
    _ = text.withCString { write(2, $0, strlen($0)) }
    exitCode = 1
}
exit(exitCode)
