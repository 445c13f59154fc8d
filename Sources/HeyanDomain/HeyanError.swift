/// An error heyan can explain: a stable machine-readable code, a message for a person, and where
/// it came from. Modules define their own error structs conforming to this protocol rather than
/// public enums, so adding a case never breaks a caller (see docs/architecture.md).
public protocol HeyanError: Error, CustomStringConvertible, Sendable {
    /// Stable, dotted, lowercase identifier such as `openssl.key-load` or `config.invalid`.
    var code: String { get }
    /// A sentence for the operator or the client.
    var message: String { get }
}

extension HeyanError {
    public var description: String { "\(code): \(message)" }
}
