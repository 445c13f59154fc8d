/// A store failure as the service sees it, whatever the engine: a stable `store.*` code, whether
/// it is transient, and the engine's own report as the cause (for the operator's log).
///
/// The service maps every error a store throws or completes with into one of these
/// (``StoreError/init(_:)``) before it logs or answers, so nothing above the store branches on
/// `sqlite.*` (or, later, PostgreSQL) codes. A transient one becomes 503 `store-unavailable`
/// with `Retry-After`; any other 500 (docs/api.md).
public struct StoreError: StoreFailure, Equatable {
    /// What kind of failure, as a stable code.
    public struct Kind: RawRepresentable, Sendable, Hashable {
        public let rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }

        /// The store cannot commit now (full disk, I/O error, lock timeout, memory): transient.
        public static let unavailable = Kind(rawValue: "store.unavailable")
        /// The store is closing or closed: transient (another process may serve the request).
        public static let closed = Kind(rawValue: "store.closed")
        /// A stored row breaks the schema (NULL where none may be, a value out of its domain).
        public static let corruptRow = Kind(rawValue: "store.corrupt-row")
        /// A write conflicts with a stored row (a constraint).
        public static let conflict = Kind(rawValue: "store.conflict")
        /// Any other failure of the store: a fault.
        public static let failed = Kind(rawValue: "store.failed")
    }

    public let kind: Kind
    /// The engine's report (`sqlite.full: database or disk is full …`), kept for the log.
    public let cause: String

    public init(kind: Kind, cause: String) {
        self.kind = kind
        self.cause = cause
    }

    /// `error` as a store-neutral failure: a ``StoreError`` as is; another ``StoreFailure`` by its
    /// own ``StoreFailure/storeErrorKind``; anything else (a signing failure inside a write) as
    /// ``Kind/failed`` with its description.
    public init(_ error: any Error) {
        if let error = error as? StoreError {
            self = error
        } else if let failure = error as? any StoreFailure {
            self.init(kind: failure.storeErrorKind, cause: "\(failure)")
        } else {
            self.init(kind: .failed, cause: "\(error)")
        }
    }

    public var code: String { kind.rawValue }
    public var message: String { cause }
    public var isTransient: Bool { kind == .unavailable || kind == .closed }
    public var storeErrorKind: Kind { kind }
}
