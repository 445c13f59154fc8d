import Glibc
import HeyanCrypto
import HeyanDomain
import HeyanPostgres
import HeyanTestSupport
import Testing

@testable import HeyanPostgresStore

/// TLS to the database (docs/postgresql.md, "Configuration"): a PostgreSQL serving a certificate from
/// the test CA, and a store opened with `sslmode=verify-full` — every connection the node opens
/// (writer, readers, record and idempotency readers, integrator, listener, leader election) is encrypted, as the server
/// itself reports in `pg_stat_ssl`; a server whose certificate the node's root does not vouch for, or
/// whose name is not the one asked for, is refused before anything is sent.
@Suite(.enabled(if: PostgresCluster.unavailableReason == nil))
struct PostgresTLSTests {
    /// The test CA's server certificate (localhost, 127.0.0.1), copied where the server account may
    /// read it (the key 0600, owned by postgres, as PostgreSQL requires), and a cluster serving it.
    static func tlsCluster(_ pki: TestPKI) throws -> (cluster: PostgresCluster, files: TemporaryDirectory) {
        let files = TemporaryDirectory(prefix: "heyan-pgtls")
        guard let account = getpwnam("postgres") else { throw TestFailure("no postgres user") }
        for (source, name, mode) in [(pki.serverCertificateFile, "server.pem", 0o644), (pki.serverKeyFile, "server.key", 0o600)] {
            try writeFile(files.file(name), try readFile(source))
            #expect(chmod(files.file(name), mode_t(mode)) == 0)
            #expect(chown(files.file(name), account.pointee.pw_uid, account.pointee.pw_gid) == 0)
        }
        #expect(chmod(files.path, 0o755) == 0)
        let cluster = try PostgresCluster(settings: [
            "ssl": "on", "ssl_cert_file": "'\(files.file("server.pem"))'", "ssl_key_file": "'\(files.file("server.key"))'",
        ])
        return (cluster, files)
    }

    static func conninfo(_ cluster: PostgresCluster, host: String = "localhost", root: String) -> String {
        "host=\(host) hostaddr=127.0.0.1 port=\(cluster.port) dbname=postgres user=postgres sslmode=verify-full "
            + "sslrootcert=\(root) connect_timeout=5"
    }

    @Test("sslmode=verify-full: every connection of a node is TLS, and the store works through them")
    func everyConnectionIsEncrypted() throws {
        let pki = try TestPKI()
        let (cluster, files) = try Self.tlsCluster(pki)
        defer { withExtendedLifetime(files) {} }
        let store = try PostgresVerificationStore(conninfo: Self.conninfo(cluster, root: pki.caFile), hash: Digest.sha256)
        defer { store.close() }

        let record = SharedRecord(
            certificateType: "marriage-status", subjectID: "11010519491231002X", owner: StoreFixture.owner,
            claims: ["maritalStatus": .string("married")], updatedAt: StoreFixture.t0)
        #expect(try wait { store.putRecords([record], actor: StoreFixture.owner, now: StoreFixture.t0, completion: $0) } == [.created])
        #expect(try store.record(certificateType: "marriage-status", subjectID: "11010519491231002X") == record)
        #expect(try store.awaitAuditIntegration(timeout: 10))

        // The server's view of heyan's sessions: all of them over TLS, none in the clear.
        let admin = try PostgresConnection(conninfo: cluster.conninfo())
        defer { admin.close() }
        let sessions = try admin.query(
            """
            SELECT a.application_name AS name, s.ssl AS ssl FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
            WHERE a.application_name LIKE 'heyan-%'
            """
        ).rows.map { (try $0.decode("name", as: String.self), try $0.decode("ssl", as: Bool.self)) }
        let names = Set(sessions.map(\.0))
        #expect(names.isSuperset(of: ["heyan-writer", "heyan-reader", "heyan-integrator", "heyan-listener"]), "\(names)")
        #expect(!sessions.isEmpty && sessions.allSatisfy(\.1), "\(sessions)")
    }

    @Test("verify-full refuses a server certificate from another CA, or for another host name")
    func anUnvouchedServerIsRefused() throws {
        let pki = try TestPKI()
        let (cluster, files) = try Self.tlsCluster(pki)
        defer { withExtendedLifetime(files) {} }
        let foreign = try TestPKI.foreignAuthority()
        let foreignRoot = files.file("foreign-ca.pem")
        try writeFile(foreignRoot, Array(foreign.certificate.pemEncoded().utf8))

        for conninfo in [Self.conninfo(cluster, root: foreignRoot), Self.conninfo(cluster, host: "db.example", root: pki.caFile)] {
            do {
                let connection = try PostgresConnection(conninfo: conninfo)
                connection.close()
                Issue.record("connected through \(conninfo)")
            } catch let error as PostgresError {
                #expect(error.code == "postgres.cannot-connect", "\(error)")
            }
        }
        // The right root and name connect.
        try PostgresConnection(conninfo: Self.conninfo(cluster, root: pki.caFile)).close()
    }
}
