#if canImport(Glibc)
import Glibc
#endif
import HeyanCrypto
import HeyanTestSupport
import Testing

@Suite("Private keys")
struct PrivateKeyTests {
    @Test(arguments: KeyAlgorithm.allCases)
    func generatedKeyRoundTripsThroughPKCS8PEM(_ algorithm: KeyAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        #expect(key.algorithm == algorithm)
        let pem = try key.pemEncoded()
        #expect(pem.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let parsed = try PrivateKey(pem: pem)
        #expect(parsed.algorithm == algorithm)
        #expect(try parsed.pemEncoded() == pem)
        #expect(try PrivateKey.generate(algorithm).pemEncoded() != pem)
    }

    @Test(arguments: KeyAlgorithm.allCases)
    func writtenKeyIsMode0600AndLoads(_ algorithm: KeyAlgorithm) throws {
        let directory = TemporaryDirectory()
        let key = try PrivateKey.generate(algorithm)
        let path = directory.file("k.key")
        let previous = umask(0)  // the widest umask: the mode must not come from umask luck
        defer { umask(previous) }
        try key.write(toFile: path)
        #expect(fileMode(path) == 0o600)
        #expect(try PrivateKey.load(pemFile: path).pemEncoded() == key.pemEncoded())
        // Writing again replaces the file and keeps the mode.
        let other = try PrivateKey.generate(algorithm)
        try other.write(toFile: path)
        #expect(fileMode(path) == 0o600)
        #expect(try PrivateKey.load(pemFile: path).pemEncoded() == other.pemEncoded())
    }

    @Test(arguments: [(mode_t(0o644), "readable"), (0o640, "readable"), (0o620, "writable"), (0o604, "readable")])
    func loadRefusesKeyFileOthersCanAccess(mode: mode_t, access: String) throws {
        let directory = TemporaryDirectory()
        let path = try directory.write(try PrivateKey.generate(.ecP256).pemEncoded(), to: "loose.key", mode: mode)
        #expect(fileMode(path) == mode)
        let error = try #require(throws: CryptoError.self) { try PrivateKey.load(pemFile: path) }
        #expect(error.code == "key.permissions")
        let octal = "0" + String(mode, radix: 8)
        #expect(error.message == "\(path) is \(access) by group or others (mode \(octal)); chmod 600 it")
    }

    @Test func loadRefusesEncryptedOrGarbageKeysWithoutPrompting() throws {
        #expect(throws: OpenSSLError.self) { try PrivateKey(pem: "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n") }
        let error = try #require(throws: OpenSSLError.self) { try PrivateKey(pem: "not a key") }
        #expect(error.code == "openssl.key-load")
    }
}
