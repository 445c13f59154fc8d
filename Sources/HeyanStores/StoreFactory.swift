import Glibc
import HeyanDomain
import HeyanPostgresStore
import HeyanStorage
import HeyanTransparencyLog

/// Opens the store a ``StoreConfiguration`` names: the one place that knows which engine backs
/// which configuration. The service runtime and the offline tools (`heyan audit verify`, `stats`,
/// `catalog publish`) open their store here and hold it as ``HeyanStore``.
public enum StoreFactory {
    /// An opened store and what the engine needs kept alive beside it.
    public struct Opened: Sendable {
        public let store: any HeyanStore
        /// The same store's audit tree (inclusion and consistency proofs, checkpoint notes).
        public let auditLog: any AuditLogProofs
        /// The serving process's claim on the store (SQLite: ``DatabaseLock``), held while open.
        public let claim: (any Sendable)?
        /// Calls the observer after each group-commit batch (for `/metrics`); engine-specific.
        public let observeBatches: @Sendable (@escaping @Sendable (GroupCommitBatch) -> Void) -> Void
        /// Verifies the audit log of this store in one read snapshot (`heyan audit verify`).
        public let verifyAudit:
            @Sendable (
                _ verifyCheckpoint: (AuditCheckpoint) throws -> Void, _ verifyNote: (StoredCheckpointNote) throws -> Void
            ) throws -> AuditVerificationReport
    }

    /// How a store is opened.
    public enum Purpose: Sendable {
        /// By `heyan serve`: claims the store first (a second server on it is refused, naming the
        /// holder), creates it if missing.
        case serve
        /// By an offline tool: an existing store only, no claim.
        case inspect
    }

    /// Opens the configured store, migrating it if needed.
    /// - Parameter hash: SHA-256 (`Digest.sha256`), for the audit chain.
    public static func open(
        _ configuration: StoreConfiguration, for purpose: Purpose, hash: @escaping @Sendable ([UInt8]) -> [UInt8],
        clock: any ServiceClock = SystemClock()
    ) throws -> Opened {
        switch configuration {
        case .sqlite(let address):
            var claim: DatabaseLock?
            switch purpose {
            case .serve:
                // Before the store opens: a second server on the same file stops here, naming the holder.
                claim = try DatabaseLock(database: address.path)
            case .inspect:
                guard access(address.path, F_OK) == 0 else {
                    throw StoreError(kind: .failed, cause: "no database at \(address.path)")
                }
            }
            let store = try SQLiteVerificationStore(path: address.path, hash: hash, clock: clock)
            return Opened(
                store: store, auditLog: store, claim: claim, observeBatches: { store.observeBatches($0) },
                verifyAudit: { check, checkNote in
                    try AuditChainVerifier.verify(store, hash: hash, verifyCheckpoint: check, verifyNote: checkNote)
                })
        case .postgresql(let conninfo):
            // No claim: several nodes serve one PostgreSQL database (docs/postgresql.md). The schema
            // is migrated under an advisory lock, so nodes starting at once migrate once.
            let store = try PostgresVerificationStore(conninfo: conninfo.text, hash: hash, clock: clock)
            return Opened(
                store: store, auditLog: store, claim: nil, observeBatches: { store.observeBatches($0) },
                verifyAudit: { check, checkNote in
                    // The entries committed before the check, integrated first (by any node, or by
                    // this store's own integrator when no node runs).
                    try store.awaitAuditIntegration()
                    return try store.withAuditLogSnapshot { reader in
                        try AuditChainVerifier.verify(
                            AuditLogSnapshot(
                                treeSize: reader.treeSize, treeRoot: reader.treeRoot, chainLeaves: reader.chainLeaves,
                                checkpoints: reader.checkpoints, notes: reader.notes,
                                nextEntry: {
                                    try reader.next().map {
                                        AuditLogSnapshot.Row(sequence: $0.sequence, entry: $0.entry, salt: $0.salt, leaf: $0.leaf)
                                    }
                                }),
                            hash: hash, verifyCheckpoint: check, verifyNote: checkNote)
                    }
                })
        }
    }
}

extension SQLiteVerificationStore: HeyanStore {
    public var instanceID: String { database.instanceID }

    /// One process holds the file (its claim), so it always leads the periodic work.
    public var leadsPeriodicWork: Bool { true }

    /// Always empty: the group-commit writer integrates each batch in the batch's own transaction.
    public func auditIntegrationBacklog() throws -> AuditIntegrationBacklog { .empty }
}
