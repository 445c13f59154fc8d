#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto
import HeyanHTTP
import HeyanTransparencyLog
import HeyanWitness

/// `heyan witness init|serve`: an outside witness of heyan's audit log, run by another department
/// (the audit office, a provincial node) on its own machine (docs/transparency-log.md, "Witnesses").
enum WitnessCommand {
    static let usage = """
        usage: heyan witness init --state DIR --name NAME
               heyan witness serve --state DIR --name NAME --log-vkey VKEY[,VKEY…] --listen HOST:PORT \
        --cert CERT.pem --key KEY.pem --ca CA.pem [--crl CRL.pem]
        """

    static func run(arguments: [String]) throws -> Int32 {
        let options = try CommandLineOptions(
            Array(arguments.dropFirst()),
            valued: ["--state", "--name", "--log-vkey", "--listen", "--cert", "--key", "--ca", "--crl"])
        guard let state = options["--state"], let name = options["--name"] else {
            print(usage)
            return 2
        }
        let keyFile = state + "/witness.key"
        switch arguments.first {
        case "init":
            try ProtectedFile.makeDirectory(state)
            guard !ProtectedFile.exists(keyFile) else {
                print("\(keyFile) exists; its verifier key:")
                print(try Cosigner(name: name, privateKey: try PrivateKey.load(pemFile: keyFile)).key.vkey)
                return 0
            }
            let key = try PrivateKey.generate(.ed25519)
            try key.write(toFile: keyFile)
            // The verifier key a log's policy names this witness by (C2SP tlog-cosignature, type 0x04).
            print(try Cosigner(name: name, privateKey: key).key.vkey)
            return 0
        case "serve":
            guard let vkeys = options["--log-vkey"], let listen = options["--listen"], let cert = options["--cert"],
                let key = options["--key"], let ca = options["--ca"]
            else {
                print(usage)
                return 2
            }
            var signals = sigset_t()
            sigemptyset(&signals)
            for signal in [SIGTERM, SIGINT] { sigaddset(&signals, signal) }
            pthread_sigmask(SIG_BLOCK, &signals, nil)
            let logs = try vkeys.split(separator: ",").map { try NoteVerifierKey(vkey: String($0)) }
            let policy = WitnessPolicy(cosigner: try Cosigner(name: name, privateKey: try PrivateKey.load(pemFile: keyFile)), logs: logs)
            let witness = Witness(policy: policy, states: try WitnessStateDirectory(path: state))
            guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]) else {
                throw CommandLineOptions.UsageError(description: "--listen HOST:PORT")
            }
            let tls = try TLSContext(files: TLSIdentityFiles(certificateChain: cert, privateKey: key, clientCA: ca, crl: options["--crl"]))
            let server = HTTPServer(
                host: String(listen[..<colon]), port: port, tls: tls, settings: HTTPServerSettings(),
                responder: WitnessResponder(witness: witness))
            let bound = try server.start()
            print("witness \(name) listening on \(listen[..<colon]):\(bound) for \(logs.map(\.name).joined(separator: ", "))")
            var received: Int32 = 0
            while sigwait(&signals, &received) != 0 {}
            server.shutdown(grace: 5)
            return 0
        default:
            print(usage)
            return 2
        }
    }
}
