/// A QR Code (ISO/IEC 18004) in byte mode: the symbol a printed attestation carries so an
/// inspector can verify the printout offline. Versions 1–40, the four error-correction levels,
/// the mask chosen by the standard's penalty rules. Pure: modules in, no I/O; ``svg(moduleSize:)``
/// draws it for a page.
public struct QRCode: Sendable, Equatable {
    public enum ErrorCorrection: Int, Sendable, CaseIterable {
        /// ~7 % of codewords recoverable: the most capacity (2,953 bytes at version 40).
        case low = 0
        /// ~15 %.
        case medium = 1
        /// ~25 %.
        case quartile = 2
        /// ~30 %.
        case high = 3

        /// The two format bits of the level (not in the order of the cases).
        var formatBits: Int { [1, 0, 3, 2][rawValue] }
    }

    public enum EncodeError: Error, Equatable {
        /// The data does not fit in a version-40 symbol at this level.
        case tooLong(bytes: Int, capacity: Int)
    }

    public let version: Int
    public let errorCorrection: ErrorCorrection
    public let mask: Int
    /// Modules per side: 17 + 4 × version.
    public let size: Int
    /// Row-major; true is dark.
    public let modules: [Bool]

    public func isDark(x: Int, y: Int) -> Bool { modules[y * size + x] }

    /// The smallest symbol holding `data` at `errorCorrection` (or better, when a higher level
    /// fits in the same version).
    public init(bytes data: [UInt8], errorCorrection: ErrorCorrection = .medium) throws {
        var level = errorCorrection
        guard let version = (1...40).first(where: { Self.capacity(version: $0, level: level) >= data.count }) else {
            throw EncodeError.tooLong(bytes: data.count, capacity: Self.capacity(version: 40, level: level))
        }
        for better in ErrorCorrection.allCases where better.rawValue > level.rawValue {
            if Self.capacity(version: version, level: better) >= data.count { level = better }
        }
        var builder = Builder(version: version, level: level)
        let codewords = Self.interleaved(Self.dataCodewords(data, version: version, level: level), version: version, level: level)
        builder.drawFunctionPatterns()
        builder.drawCodewords(codewords)
        var best: (mask: Int, penalty: Int, modules: [Bool])?
        for mask in 0..<8 {
            var candidate = builder
            candidate.apply(mask: mask)
            candidate.drawFormatBits(mask: mask)
            let penalty = candidate.penalty()
            if best == nil || penalty < best!.penalty { best = (mask, penalty, candidate.modules) }
        }
        self.version = version
        self.errorCorrection = level
        self.mask = best!.mask
        self.size = builder.size
        self.modules = best!.modules
    }

    public init(text: String, errorCorrection: ErrorCorrection = .medium) throws {
        try self.init(bytes: Array(text.utf8), errorCorrection: errorCorrection)
    }

    /// Bytes a symbol of `version` holds in byte mode at `level`.
    public static func capacity(version: Int, level: ErrorCorrection) -> Int {
        let dataBits = dataCodewordCount(version: version, level: level) * 8
        return (dataBits - 4 - countBits(version)) / 8
    }

    // MARK: - Codewords

    static func countBits(_ version: Int) -> Int { version <= 9 ? 8 : 16 }

    static func rawDataModules(version: Int) -> Int {
        var result = (16 * version + 128) * version + 64
        if version >= 2 {
            let alignments = version / 7 + 2
            result -= (25 * alignments - 10) * alignments - 55
            if version >= 7 { result -= 36 }
        }
        return result
    }

    static func dataCodewordCount(version: Int, level: ErrorCorrection) -> Int {
        rawDataModules(version: version) / 8
            - Tables.eccPerBlock[level.rawValue][version] * Tables.blocks[level.rawValue][version]
    }

    /// Mode, count, data, terminator and padding, as codewords.
    static func dataCodewords(_ data: [UInt8], version: Int, level: ErrorCorrection) -> [UInt8] {
        var bits = BitBuffer()
        bits.append(0b0100, count: 4)  // byte mode
        bits.append(data.count, count: countBits(version))
        for byte in data { bits.append(Int(byte), count: 8) }
        let capacity = dataCodewordCount(version: version, level: level) * 8
        bits.append(0, count: min(4, capacity - bits.count))
        bits.append(0, count: (8 - bits.count % 8) % 8)
        var pad = 0xEC
        while bits.count < capacity {
            bits.append(pad, count: 8)
            pad ^= 0xEC ^ 0x11
        }
        return bits.bytes
    }

    /// Splits into blocks, adds Reed–Solomon error correction to each, interleaves.
    static func interleaved(_ data: [UInt8], version: Int, level: ErrorCorrection) -> [UInt8] {
        let blockCount = Tables.blocks[level.rawValue][version]
        let eccLength = Tables.eccPerBlock[level.rawValue][version]
        let raw = rawDataModules(version: version) / 8
        let shortBlocks = blockCount - raw % blockCount
        let shortLength = raw / blockCount
        let divisor = ReedSolomon.divisor(degree: eccLength)
        var blocks: [[UInt8]] = []
        var k = 0
        for i in 0..<blockCount {
            let length = shortLength - eccLength + (i < shortBlocks ? 0 : 1)
            var block = Array(data[k..<(k + length)])
            k += length
            let ecc = ReedSolomon.remainder(block, divisor: divisor)
            if i < shortBlocks { block.append(0) }
            blocks.append(block + ecc)
        }
        var result: [UInt8] = []
        for i in 0..<blocks[0].count {
            for (j, block) in blocks.enumerated() where i != shortLength - eccLength || j >= shortBlocks {
                result.append(block[i])
            }
        }
        return result
    }

    // MARK: - Drawing

    /// The symbol as SVG (dark modules as one path, four modules of quiet zone), for inline use.
    public func svg(moduleSize: Int = 4, title: String? = nil) -> String {
        let border = 4
        let side = (size + 2 * border) * moduleSize
        var path = ""
        for y in 0..<size {
            for x in 0..<size where isDark(x: x, y: y) {
                path += "M\(x + border),\(y + border)h1v1h-1z"
            }
        }
        let label = title.map { "<title>\(HTMLText.escape($0))</title>" } ?? ""
        return """
            <svg xmlns="http://www.w3.org/2000/svg" class="qr" width="\(side)" height="\(side)" \
            viewBox="0 0 \(size + 2 * border) \(size + 2 * border)" shape-rendering="crispEdges" role="img">\
            \(label)<rect width="100%" height="100%" fill="#fff"/><path d="\(path)" fill="#000"/></svg>
            """
    }

    /// The symbol as a plain PGM image (P2), `scale` pixels per module with the quiet zone: what
    /// an outside decoder (zbarimg) reads in the tests.
    public func pgm(scale: Int = 4) -> String {
        let border = 4
        let side = (size + 2 * border) * scale
        var lines = ["P2", "\(side) \(side)", "1"]
        for py in 0..<side {
            var row: [String] = []
            row.reserveCapacity(side)
            for px in 0..<side {
                let x = px / scale - border
                let y = py / scale - border
                let dark = x >= 0 && y >= 0 && x < size && y < size && isDark(x: x, y: y)
                row.append(dark ? "0" : "1")
            }
            lines.append(row.joined(separator: " "))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// The symbol under construction: modules and which of them belong to function patterns.
private struct Builder {
    let version: Int
    let level: QRCode.ErrorCorrection
    let size: Int
    var modules: [Bool]
    var isFunction: [Bool]

    init(version: Int, level: QRCode.ErrorCorrection) {
        self.version = version
        self.level = level
        size = version * 4 + 17
        modules = Array(repeating: false, count: size * size)
        isFunction = Array(repeating: false, count: size * size)
    }

    mutating func setFunction(_ x: Int, _ y: Int, _ dark: Bool) {
        modules[y * size + x] = dark
        isFunction[y * size + x] = true
    }

    mutating func drawFunctionPatterns() {
        for i in 0..<size {
            setFunction(6, i, i % 2 == 0)
            setFunction(i, 6, i % 2 == 0)
        }
        drawFinder(3, 3)
        drawFinder(size - 4, 3)
        drawFinder(3, size - 4)
        let positions = alignmentPositions()
        let count = positions.count
        for i in 0..<count {
            for j in 0..<count where !((i == 0 && j == 0) || (i == 0 && j == count - 1) || (i == count - 1 && j == 0)) {
                for dy in -2...2 {
                    for dx in -2...2 { setFunction(positions[i] + dx, positions[j] + dy, max(abs(dx), abs(dy)) != 1) }
                }
            }
        }
        drawFormatBits(mask: 0)  // reserves the format areas; redrawn with the chosen mask
        drawVersion()
    }

    mutating func drawFinder(_ x: Int, _ y: Int) {
        for dy in -4...4 {
            for dx in -4...4 {
                let distance = max(abs(dx), abs(dy))
                let xx = x + dx
                let yy = y + dy
                if xx >= 0, xx < size, yy >= 0, yy < size { setFunction(xx, yy, distance != 2 && distance != 4) }
            }
        }
    }

    func alignmentPositions() -> [Int] {
        if version == 1 { return [] }
        let count = version / 7 + 2
        let step = (version * 8 + count * 3 + 5) / (count * 4 - 4) * 2
        var result = Array(repeating: 6, count: count)
        var position = size - 7
        for i in 0..<(count - 1) {
            result[count - 1 - i] = position
            position -= step
        }
        return result
    }

    mutating func drawFormatBits(mask: Int) {
        let data = level.formatBits << 3 | mask
        var remainder = data
        for _ in 0..<10 { remainder = (remainder << 1) ^ ((remainder >> 9) * 0x537) }
        let bits = (data << 10 | remainder) ^ 0x5412
        func bit(_ i: Int) -> Bool { (bits >> i) & 1 != 0 }
        for i in 0...5 { setFunction(8, i, bit(i)) }
        setFunction(8, 7, bit(6))
        setFunction(8, 8, bit(7))
        setFunction(7, 8, bit(8))
        for i in 9..<15 { setFunction(14 - i, 8, bit(i)) }
        for i in 0..<8 { setFunction(size - 1 - i, 8, bit(i)) }
        for i in 8..<15 { setFunction(8, size - 15 + i, bit(i)) }
        setFunction(8, size - 8, true)
    }

    mutating func drawVersion() {
        guard version >= 7 else { return }
        var remainder = version
        for _ in 0..<12 { remainder = (remainder << 1) ^ ((remainder >> 11) * 0x1F25) }
        let bits = version << 12 | remainder
        for i in 0..<18 {
            let dark = (bits >> i) & 1 != 0
            let a = size - 11 + i % 3
            let b = i / 3
            setFunction(a, b, dark)
            setFunction(b, a, dark)
        }
    }

    /// Places the codewords in the zigzag order of the standard.
    mutating func drawCodewords(_ data: [UInt8]) {
        var i = 0
        var right = size - 1
        while right >= 1 {
            if right == 6 { right = 5 }
            for vertical in 0..<size {
                for j in 0..<2 {
                    let x = right - j
                    let upward = (right + 1) & 2 == 0
                    let y = upward ? size - 1 - vertical : vertical
                    if !isFunction[y * size + x] && i < data.count * 8 {
                        modules[y * size + x] = (data[i >> 3] >> (7 - UInt8(i & 7))) & 1 != 0
                        i += 1
                    }
                }
            }
            right -= 2
        }
    }

    mutating func apply(mask: Int) {
        for y in 0..<size {
            for x in 0..<size where !isFunction[y * size + x] {
                let invert: Bool
                switch mask {
                case 0: invert = (x + y) % 2 == 0
                case 1: invert = y % 2 == 0
                case 2: invert = x % 3 == 0
                case 3: invert = (x + y) % 3 == 0
                case 4: invert = (x / 3 + y / 2) % 2 == 0
                case 5: invert = x * y % 2 + x * y % 3 == 0
                case 6: invert = (x * y % 2 + x * y % 3) % 2 == 0
                default: invert = ((x + y) % 2 + x * y % 3) % 2 == 0
                }
                if invert { modules[y * size + x].toggle() }
            }
        }
    }

    /// The standard's four penalty rules (runs, 2×2 blocks, finder-like patterns, balance).
    func penalty() -> Int {
        var result = 0
        func dark(_ x: Int, _ y: Int) -> Bool { modules[y * size + x] }
        for horizontal in [true, false] {
            for a in 0..<size {
                var run = 0
                var previous = false
                var line: [Bool] = []
                line.reserveCapacity(size)
                for b in 0..<size {
                    let value = horizontal ? dark(b, a) : dark(a, b)
                    line.append(value)
                    if b > 0 && value == previous {
                        run += 1
                    } else {
                        if run >= 5 { result += 3 + run - 5 }
                        run = 1
                    }
                    previous = value
                }
                if run >= 5 { result += 3 + run - 5 }
                // 1:1:3:1:1 finder-like runs with four light modules on one side.
                let patterns: [[Bool]] = [
                    [true, false, true, true, true, false, true, false, false, false, false],
                    [false, false, false, false, true, false, true, true, true, false, true],
                ]
                if size >= 11 {
                    for start in 0...(size - 11) {
                        for pattern in patterns where Array(line[start..<(start + 11)]) == pattern { result += 40 }
                    }
                }
            }
        }
        for y in 0..<(size - 1) {
            for x in 0..<(size - 1) {
                let color = dark(x, y)
                if color == dark(x + 1, y) && color == dark(x, y + 1) && color == dark(x + 1, y + 1) { result += 3 }
            }
        }
        let total = size * size
        let darkCount = modules.reduce(0) { $0 + ($1 ? 1 : 0) }
        let k = (abs(darkCount * 20 - total * 10) + total - 1) / total - 1
        result += max(0, k) * 10
        return result
    }
}

private struct BitBuffer {
    var bits: [Bool] = []
    var count: Int { bits.count }

    mutating func append(_ value: Int, count: Int) {
        guard count > 0 else { return }
        for i in stride(from: count - 1, through: 0, by: -1) { bits.append((value >> i) & 1 != 0) }
    }

    var bytes: [UInt8] {
        stride(from: 0, to: bits.count, by: 8).map { start in
            bits[start..<min(start + 8, bits.count)].reduce(UInt8(0)) { $0 << 1 | ($1 ? 1 : 0) }
        }
    }
}

private enum ReedSolomon {
    static func multiply(_ x: UInt8, _ y: UInt8) -> UInt8 {
        var z = 0
        for i in stride(from: 7, through: 0, by: -1) {
            z = (z << 1) ^ ((z >> 7) * 0x11D)
            z ^= Int((y >> UInt8(i)) & 1) * Int(x)
        }
        return UInt8(z)
    }

    static func divisor(degree: Int) -> [UInt8] {
        var result = Array(repeating: UInt8(0), count: degree - 1) + [1]
        var root: UInt8 = 1
        for _ in 0..<degree {
            for j in 0..<degree {
                result[j] = multiply(result[j], root)
                if j + 1 < degree { result[j] ^= result[j + 1] }
            }
            root = multiply(root, 0x02)
        }
        return result
    }

    static func remainder(_ data: [UInt8], divisor: [UInt8]) -> [UInt8] {
        var result = Array(repeating: UInt8(0), count: divisor.count)
        for byte in data {
            let factor = byte ^ result.removeFirst()
            result.append(0)
            for i in 0..<result.count { result[i] ^= multiply(divisor[i], factor) }
        }
        return result
    }
}

/// ISO/IEC 18004 Table 9: error-correction codewords per block and number of blocks, by level
/// (L, M, Q, H) and version (index 0 unused).
private enum Tables {
    static let eccPerBlock: [[Int]] = [
        [-1, 7, 10, 15, 20, 26, 18, 20, 24, 30, 18, 20, 24, 26, 30, 22, 24, 28, 30, 28, 28, 28, 28, 30, 30, 26, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
        [-1, 10, 16, 26, 18, 24, 16, 18, 22, 22, 26, 30, 22, 22, 24, 24, 28, 28, 26, 26, 26, 26, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28, 28],
        [-1, 13, 22, 18, 26, 18, 24, 18, 22, 20, 24, 28, 26, 24, 20, 30, 24, 28, 28, 26, 30, 28, 30, 30, 30, 30, 28, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
        [-1, 17, 28, 22, 16, 22, 28, 26, 26, 24, 28, 24, 28, 22, 24, 24, 30, 28, 28, 26, 28, 30, 24, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30, 30],
    ]
    static let blocks: [[Int]] = [
        [-1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6, 6, 6, 7, 8, 8, 9, 9, 10, 12, 12, 12, 13, 14, 15, 16, 17, 18, 19, 19, 20, 21, 22, 24, 25],
        [-1, 1, 1, 1, 2, 2, 4, 4, 4, 5, 5, 5, 8, 9, 9, 10, 10, 11, 13, 14, 16, 17, 17, 18, 20, 21, 23, 25, 26, 28, 29, 31, 33, 35, 37, 38, 40, 43, 45, 47, 49],
        [-1, 1, 1, 2, 2, 4, 4, 6, 6, 8, 8, 8, 10, 12, 16, 12, 17, 16, 18, 21, 20, 23, 23, 25, 27, 29, 34, 34, 35, 38, 40, 43, 45, 48, 51, 53, 56, 59, 62, 65, 68],
        [-1, 1, 1, 2, 4, 4, 4, 5, 6, 8, 8, 11, 11, 16, 16, 18, 16, 19, 21, 25, 25, 25, 34, 30, 32, 35, 37, 40, 42, 45, 48, 51, 54, 57, 60, 63, 66, 70, 74, 77, 81],
    ]
}
