/// A store failure that can be about the store's moment rather than the request: a full disk, an
/// I/O error, a lock another process held past the busy timeout, a store that is closing.
///
/// The service answers a transient one with 503 `store-unavailable` and `Retry-After` (the
/// request was not stored and may be sent again), anything else with 500 (docs/api.md).
public protocol StoreFailure: HeyanError {
    /// True when the same request may succeed later without change.
    var isTransient: Bool { get }
    /// The store-neutral kind of this failure (``StoreError``); by default ``StoreError/Kind/unavailable``
    /// when transient, else ``StoreError/Kind/failed``.
    var storeErrorKind: StoreError.Kind { get }
}

extension StoreFailure {
    public var storeErrorKind: StoreError.Kind { isTransient ? .unavailable : .failed }
}

extension Error {
    /// True for a ``StoreFailure`` that is transient.
    public var isTransientStoreFailure: Bool { (self as? any StoreFailure)?.isTransient ?? false }
}

/// Whether a store can commit now, for `GET /readyz`.
public struct StoreReadiness: Sendable, Equatable {
    public var isReady: Bool
    /// Why it is not ready, for the operator (the `/readyz` problem detail and the log).
    public var reason: String?

    public static let ready = StoreReadiness(isReady: true, reason: nil)

    public static func notReady(_ reason: String) -> StoreReadiness {
        StoreReadiness(isReady: false, reason: reason)
    }

    public init(isReady: Bool, reason: String?) {
        self.isReady = isReady
        self.reason = reason
    }
}

/// A store that can say whether it is able to commit (docs/storage.md, "Readiness").
public protocol StoreReadinessChecking: AnyObject, Sendable {
    /// Calls `completion` (on any thread) with whether the store can commit now. Not ready while
    /// the filesystem holding it has less than `minimumFreeBytes` free, or while the last commit
    /// failed transiently and no probe commit has succeeded since; may run one small probe
    /// transaction to find out (at most one at a time, and not more than once a second).
    func checkReadiness(minimumFreeBytes: Int64, completion: @escaping @Sendable (StoreReadiness) -> Void)
}
