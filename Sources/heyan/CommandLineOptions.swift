/// A minimal `--flag value` parser for heyan's subcommands (no package dependencies).
struct CommandLineOptions {
    private(set) var values: [String: String] = [:]
    private(set) var flags: Set<String> = []
    private(set) var positional: [String] = []

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    /// `valued` lists options that take a value; `switches` those that do not.
    init(_ arguments: [String], valued: Set<String>, switches: Set<String> = []) throws {
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument.hasPrefix("--") {
                var name = argument
                var inlineValue: String?
                if let equals = argument.firstIndex(of: "=") {
                    name = String(argument[..<equals])
                    inlineValue = String(argument[argument.index(after: equals)...])
                }
                if valued.contains(name) {
                    if let inlineValue {
                        values[name] = inlineValue
                    } else {
                        guard index + 1 < arguments.count else { throw UsageError(description: "\(name) needs a value") }
                        index += 1
                        values[name] = arguments[index]
                    }
                } else if switches.contains(name) {
                    flags.insert(name)
                } else {
                    throw UsageError(description: "unknown option \(name)")
                }
            } else {
                positional.append(argument)
            }
            index += 1
        }
    }

    subscript(name: String) -> String? { values[name] }
    func has(_ flag: String) -> Bool { flags.contains(flag) }
}
