/// `heyan bench signing` (to be written).
enum SigningBenchmarkCommand {
    static func run(arguments: [String]) throws -> Int32 { 2 }
}
