/// `heyan pki init|issue|revoke` (to be written).
enum PKICommand {
    static func run(arguments: [String]) throws -> Int32 { 2 }
}
