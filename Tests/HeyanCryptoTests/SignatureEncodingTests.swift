import HeyanTestSupport
import Testing

@testable import HeyanCrypto

/// The DER ↔ `R ‖ S` conversion of ES256 and SM2 JWS signatures: R ‖ S read from DER by hand must
/// agree with OpenSSL's encoding (`i2d_ECDSA_SIG`) for every width of R and S, and refuse what is
/// not a strict DER ECDSA-Sig-Value.
@Suite("ECDSA signature encoding")
struct SignatureEncodingTests {
    static func rawRS(_ der: [UInt8]) throws -> [UInt8] {
        try der.withUnsafeBytes { try ECDSASignatureEncoding.rawRS(fromDER: $0) }
    }

    @Test func rawRSRoundTripsThroughOpenSSLsDER() throws {
        var generator = SplitMix64(seed: 7518)
        for round in 0..<2_000 {
            var raw = (0..<64).map { _ in UInt8.random(in: 0...255, using: &generator) }
            // Short components (leading zero bytes, down to zero itself) and top bits set or clear.
            let zeros = round % 34
            for index in 0..<min(zeros, 32) { raw[index] = 0 }
            for index in 32..<(32 + min(round % 7, 32)) { raw[index] = 0 }
            if round % 3 == 0 { raw[32 + min(round % 7, 31)] |= 0x80 }
            if round % 5 == 0 { raw[min(zeros, 31)] &= 0x7F }
            let der = try ECDSASignatureEncoding.der(fromRawRS: raw)
            #expect(try Self.rawRS(der) == raw)
        }
    }

    @Test func malformedDERIsRefused() throws {
        let raw = [UInt8](repeating: 0x11, count: 31) + [0x99] + [0x80] + [UInt8](repeating: 0x22, count: 31)
        let der = try ECDSASignatureEncoding.der(fromRawRS: raw)  // r: 32 bytes, s: 0x00 + 32 bytes
        #expect(try Self.rawRS(der) == raw)
        var cases: [[UInt8]] = [
            [], Array(der.dropLast()), der + [0], [0x31] + der.dropFirst(),  // truncated, trailing, not a SEQUENCE
        ]
        var wrongLength = der
        wrongLength[1] &+= 1
        cases.append(wrongLength)
        var notInteger = der
        notInteger[2] = 0x04
        cases.append(notInteger)
        var negative = der
        negative[4] = 0x80  // r's first byte with its top bit set and no sign byte
        cases.append(negative)
        // A needless sign byte (0x00 before a byte below 0x80) and a component of 33 bytes.
        cases.append([0x30, 0x08, 0x02, 0x02, 0x00, 0x01, 0x02, 0x02, 0x00, 0x81])
        cases.append([0x30, 0x27, 0x02, 0x21] + [UInt8](repeating: 0x01, count: 33) + [0x02, 0x02, 0x00, 0x81])
        for bad in cases {
            #expect(throws: (any Error).self) { try Self.rawRS(bad) }
        }
    }
}
