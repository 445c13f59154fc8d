import HeyanPostgres
import HeyanTestSupport
import Testing

/// Arrays in their text form, as a batch's `INSERT … SELECT * FROM unnest($1::text[], …)` sends them:
/// every element must come back exactly as it went, NULLs as NULL.
@Suite(
    "PostgresArrayLiteral: one parameter for many values",
    .enabled(if: PostgresTestDatabase.isAvailable, "needs root to start PostgreSQL as the postgres user"))
struct PostgresArrayLiteralTests {
    @Test("the text form as array_in reads it")
    func encoding() {
        #expect(PostgresArrayLiteral.encode([]) == "{}")
        #expect(
            PostgresArrayLiteral.encode([.text(#"a"b\c"#), .null, .text("NULL"), .text("")])
                == #"{"a\"b\\c",NULL,"NULL",""}"#)
        #expect(PostgresArrayLiteral.encode([.bytes([0x00, 0xAB, 0xFF]), .bytes([])]) == #"{\\x00abff,\\x}"#)
        #expect(PostgresArrayLiteral.encode([.int64(.min), .int64(.max), .bool(true), .bool(false)])
            == "{-9223372036854775808,9223372036854775807,t,f}")
    }

    static let texts: [String?] = [
        "plain", "", "NULL", "null", nil, #"{"claims":{"quote":"say \"hi\"","path":"C:\\dir\\file"}}"#,
        "line one\nline two\r\n\ttabbed", "张三 · 住房公积金提取：核验婚姻状况", "{braces,commas}", "  padded  ", "\\", "\"",
        "emoji 🎉 and combining e\u{301}", String(repeating: "长", count: 3_000),
    ]

    @Test("text, NULLs, quotes, backslashes, newlines, Chinese and long values come back exactly")
    func textRoundTrip() async throws {
        let connection = try await PostgresTestDatabase.connect()
        let rows = try connection.query(
            "SELECT x FROM unnest($1::text[]) WITH ORDINALITY AS t(x, n) ORDER BY n",
            [.array(Self.texts.map { PostgresValue.text($0) })]
        ).rows
        #expect(try rows.map { try $0.decodeIfPresent("x", as: String.self) } == Self.texts)
    }

    @Test("bytea, bigint extremes, integer, boolean and float8 come back exactly")
    func typedRoundTrip() async throws {
        let connection = try await PostgresTestDatabase.connect()
        let bytes: [[UInt8]?] = [Array(0...255), [], nil, Array(repeating: 0x5C, count: 32), [0x22, 0x7B, 0x7D, 0x2C]]
        let integers: [Int64?] = [.min, .max, 0, -1, nil]
        let int32s: [Int64?] = [Int64(Int32.min), Int64(Int32.max), nil, 7, 0]
        let flags: [Bool?] = [true, false, nil, true, false]
        let reals: [Double?] = [0.1, -1e-300, .infinity, 1.7976931348623157e308, nil]
        let rows = try connection.query(
            """
            SELECT b, i, s, f, r FROM unnest($1::bytea[], $2::bigint[], $3::integer[], $4::boolean[], $5::float8[])
                WITH ORDINALITY AS t(b, i, s, f, r, n) ORDER BY n
            """,
            [
                .array(bytes.map { $0.map(PostgresValue.bytes) ?? .null }),
                .array(integers.map { $0.map(PostgresValue.int64) ?? .null }),
                .array(int32s.map { $0.map(PostgresValue.int64) ?? .null }),
                .array(flags.map { $0.map(PostgresValue.bool) ?? .null }),
                .array(reals.map { $0.map(PostgresValue.double) ?? .null }),
            ]
        ).rows
        #expect(rows.count == 5)
        #expect(try rows.map { try $0.decodeIfPresent("b", as: [UInt8].self) } == bytes)
        #expect(try rows.map { try $0.decodeIfPresent("i", as: Int64.self) } == integers)
        #expect(try rows.map { try $0.decodeIfPresent("s", as: Int32.self).map(Int64.init) } == int32s)
        #expect(try rows.map { try $0.decodeIfPresent("f", as: Bool.self) } == flags)
        #expect(try rows.map { try $0.decodeIfPresent("r", as: Double.self) } == reals)
    }

    @Test("a text element holding NUL is refused before anything is sent, as any text parameter")
    func nulRefused() async throws {
        let connection = try await PostgresTestDatabase.connect()
        #expect {
            try connection.query("SELECT unnest($1::text[]) AS x", [.array([.text("a\u{0}b")])])
        } throws: { error in
            (error as? PostgresError)?.code == "postgres.invalid-parameter"
        }
    }
}
