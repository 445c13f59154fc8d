/// The whole of heyan's store as the service sees it: every face it uses, composed into one type
/// that is injected once (``ServiceRuntime``, the offline tools) and never downcast.
///
/// An engine implements all of it — `SQLiteVerificationStore` (HeyanStorage) and
/// `PostgresVerificationStore` (HeyanPostgresStore) — and is opened from a ``StoreConfiguration``. Errors it reports are
/// ``StoreFailure``s; the service presents them as a store-neutral ``StoreError`` (`store.*`).
public protocol HeyanStore:
    VerificationStore, CommitmentStore, SpotCheckQueueCounting, CatalogVersionStore, ComplaintStore,
    StatisticsStore, StoreReadinessChecking, SigningHeaderStore, NodeCoordination
{
    /// A random identifier of this database, fixed when it was created (for logs).
    var instanceID: String { get }
    /// Finishes the queued writes and stops writing; later writes fail (`store.closed`). Reads
    /// keep working.
    func close()
}

/// The record of every attestation signing key heyan used: the JWS protected headers
/// (docs/storage.md, `jws_headers`).
public protocol SigningHeaderStore: AnyObject, Sendable {
    /// Records `header` (the base64url first segment of a compact JWS), if new.
    func registerSigningHeader(_ header: String, completion: @escaping StoreCompletion<Void>)
    /// Every stored protected header (base64url), oldest first.
    func signingHeaders() throws -> [String]
}
