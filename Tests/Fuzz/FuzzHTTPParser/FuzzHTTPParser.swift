import HeyanHTTP

/// libFuzzer target for ``HTTPRequestParser`` (docs/fuzzing.md).
///
/// Input: byte 0 picks the limits (bit 0: small limits so the 413/414/431 paths are reachable with short inputs)
/// and, with byte 1, the split points; the rest is the byte stream of one connection. The stream is parsed whole
/// and again in chunks, and the two event sequences must be identical: the parser promises that the outcome never
/// depends on how the bytes arrived. Also checked: at most one error, nothing after it, `failure` agrees with it,
/// and a request's body never exceeds the limit.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTPParser(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    guard size >= 2 else { return 0 }
    let control = data[0]
    let splitSeed = data[1]
    let stream = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))

    var limits = HTTPParserLimits()
    if control & 1 == 1 {
        limits.requestLineBytes = 64
        limits.headerBytes = 256
        limits.headerCount = 8
        limits.bodyBytes = 128
        limits.bodyLimitOverride = { method, path in method == "POST" && path == "/big" ? 512 : nil }
    }

    let whole = events(of: [stream], limits: limits)
    check(whole, limits: limits)

    // Split points from a small linear congruential generator seeded by the control bytes, so that libFuzzer can
    // steer them; mode 0 also tries the worst case of one byte per append.
    var chunks: [[UInt8]] = []
    if control & 0b110 == 0 {
        chunks = stream.map { [$0] }
    } else {
        var state = UInt32(splitSeed) &* 2_654_435_761 &+ UInt32(control)
        var index = 0
        while index < stream.count {
            state = state &* 1_103_515_245 &+ 12_345
            let length = Int((state >> 16) % 17)  // 0...16: empty appends included
            let end = min(stream.count, index + length)
            chunks.append(Array(stream[index..<end]))
            index = end
        }
    }
    let split = events(of: chunks, limits: limits)
    if split != whole {
        fatalError("split parse differs from whole parse:\nwhole: \(whole)\nsplit: \(split)")
    }
    return 0
}

/// Appends each chunk and drains every event after each append, as a connection does.
private func events(of chunks: [[UInt8]], limits: HTTPParserLimits) -> [HTTPParserEvent] {
    var parser = HTTPRequestParser(limits: limits)
    var result: [HTTPParserEvent] = []
    for chunk in chunks {
        parser.append(chunk)
        while let event = parser.next() {
            result.append(event)
            if case .error(let error) = event, parser.failure != error {
                fatalError("failure \(String(describing: parser.failure)) differs from the returned error \(error)")
            }
        }
    }
    if parser.failure == nil && parser.bufferedByteCount < 0 { fatalError("negative buffered byte count") }
    return result
}

private func check(_ events: [HTTPParserEvent], limits: HTTPParserLimits) {
    for (index, event) in events.enumerated() {
        switch event {
        case .error:
            if index != events.count - 1 { fatalError("events after an error: \(events)") }
        case .request(let request):
            let limit = limits.bodyLimitOverride?(request.method, request.path) ?? limits.bodyBytes
            if request.body.count > limit { fatalError("body of \(request.body.count) bytes over the limit \(limit)") }
            if !request.path.hasPrefix("/") && request.target != "*" { fatalError("path \(request.path)") }
        case .continueExpected:
            break
        }
    }
}
