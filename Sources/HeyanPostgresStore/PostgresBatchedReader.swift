import Dispatch
import HeyanDomain
import HeyanPostgres
import Synchronization

/// Reads the event loops ask for by key, answered off the loops in batches: the owners' records
/// data-sharing verifications answer from (``records``) and the responses stored for an
/// `Idempotency-Key` (``idempotencyKeys``).
///
/// One thread with a connection of its own takes every lookup waiting when it is free and answers
/// all of them with one statement, then completes each: the lookups that arrive during a round trip
/// form the next batch, as writes do for the group-committing writer. An event loop hands a lookup
/// over and serves other connections meanwhile, instead of sleeping in `poll` for a round trip of
/// its own; the database runs one statement for many requests.
///
/// A failure fails the lookups of its batch with its error: a lost connection (transient, a 503
/// `store-unavailable`) is reconnected by the next batch, as the reader connections are.
final class BatchedReader<Key: Hashable & Sendable, Value: Sendable>: @unchecked Sendable {
    // @unchecked: `connection` is used only on `queue`; the waiting lookups only under their Mutex.

    /// What one kind of lookup reads: every key's row, if any, with one statement over arrays of the
    /// keys' fields (paired by `unnest`), each row's key and value.
    struct Read: Sendable {
        let name: String
        let statement: String
        let parameters: @Sendable ([Key]) -> [PostgresValue]
        let key: @Sendable (PostgresRow) throws -> Key
        let value: @Sendable (PostgresRow) throws -> Value
    }

    /// One lookup waiting for its batch.
    private struct Lookup {
        let key: Key
        let completion: StoreCompletion<Value?>
    }

    private struct Waiting {
        var lookups: [Lookup] = []
        /// A drain is queued or running; it takes every lookup that arrives before it finds none.
        var draining = false
        var stopped = false
    }

    private let read: Read
    private let connection: PostgresConnection
    private let queue: DispatchQueue
    private let waiting = Mutex(Waiting())
    private let batches = Atomic<Int>(0)

    /// The reader of `read`, on a connection of its own (`application_name` `heyan-<name>`).
    init(conninfo: String, _ read: Read) throws {
        self.read = read
        queue = DispatchQueue(label: "heyan.postgres.\(read.name)")
        connection = try PostgresConnection(conninfo: conninfo, applicationName: "heyan-\(read.name)")
    }

    /// Queues a lookup of the row of `key`; `completion` runs on the reader's thread once its batch was
    /// read (after ``stop()``, at once with `store.closed`).
    func lookUp(_ key: Key, completion: @escaping StoreCompletion<Value?>) {
        let startDrain = waiting.withLock { waiting -> Bool? in
            guard !waiting.stopped else { return nil }
            waiting.lookups.append(Lookup(key: key, completion: completion))
            guard !waiting.draining else { return false }
            waiting.draining = true
            return true
        }
        guard let startDrain else { return completion(.failure(PostgresStoreError.closed)) }
        if startDrain { queue.async { [self] in drain() } }
    }

    /// Answers batch after batch until no lookup waits (on the reader's queue).
    private func drain() {
        while true {
            let batch = waiting.withLock { waiting in
                let batch = waiting.lookups
                waiting.lookups = []
                if batch.isEmpty { waiting.draining = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            answer(batch)
        }
    }

    private func answer(_ batch: [Lookup]) {
        batches.wrappingAdd(1, ordering: .relaxed)
        let found: [Key: Result<Value, any Error>]
        do {
            found = try rows(batch.map(\.key))
        } catch {
            for lookup in batch { lookup.completion(.failure(error)) }
            return
        }
        for lookup in batch {
            switch found[lookup.key] {
            case .success(let record)?: lookup.completion(.success(record))
            case .failure(let error)?: lookup.completion(.failure(error))
            case nil: lookup.completion(.success(nil))
            }
        }
    }

    /// The rows of `keys` by key; a row that does not decode fails only the lookups of its key.
    private func rows(_ keys: [Key]) throws -> [Key: Result<Value, any Error>] {
        if !connection.isConnected { try connection.reset() }
        let rows = try connection.query(read.statement, read.parameters(keys)).rows
        var found: [Key: Result<Value, any Error>] = [:]
        found.reserveCapacity(rows.count)
        for row in rows {
            found[try read.key(row)] = Result { try read.value(row) }
        }
        return found
    }

    /// `values` as a PostgreSQL array literal (`{"a","b"}`), for a `$n::text[]` parameter.
    static func textArray(_ values: [String]) -> PostgresValue {
        .text(PostgresArrayLiteral.encode(count: values.count) { .text(values[$0]) })
    }

    /// Batches read so far (a statement each; lookups per batch is the batching factor).
    var readBatches: Int { batches.load(ordering: .relaxed) }

    /// Refuses later lookups (`store.closed`); those waiting are answered, then the connection is
    /// closed. Does not wait (it may be called on the reader's own thread, by a completion releasing the store).
    func stop() {
        waiting.withLock { $0.stopped = true }
        queue.async { [self] in connection.close() }
    }

    /// The reader connection's server process (a test hook).
    var backendPID: Int32 { queue.sync { connection.backendPID } }

    /// Holds the reader's thread until the returned function is called (a test hook): the lookups
    /// queued meanwhile form one batch.
    func hold() -> @Sendable () -> Void {
        let gate = DispatchSemaphore(value: 0)
        queue.async { gate.wait() }
        return { gate.signal() }
    }
}

/// A record's key: its certificate type and subject.
struct RecordKey: Hashable, Sendable {
    let certificateType: String
    let subjectID: String
}

/// An `Idempotency-Key` of a requester.
struct IdempotencyKeyID: Hashable, Sendable {
    let requester: String
    let key: String
}

typealias RecordReader = BatchedReader<RecordKey, SharedRecord>
typealias IdempotencyReader = BatchedReader<IdempotencyKeyID, IdempotencyRecord>

extension BatchedReader.Read where Key == RecordKey, Value == SharedRecord {
    static var records: Self {
        Self(
            name: "records",
            statement: """
                SELECT r.certificate_type, r.subject_id, r.owner, r.claims, r.updated_at
                FROM unnest($1::text[], $2::text[]) AS k(certificate_type, subject_id)
                JOIN records r ON r.certificate_type = k.certificate_type AND r.subject_id = k.subject_id
                """,
            parameters: { keys in
                [RecordReader.textArray(keys.map(\.certificateType)), RecordReader.textArray(keys.map(\.subjectID))]
            },
            key: { row in RecordKey(certificateType: try row.decode("certificate_type"), subjectID: try row.decode("subject_id")) },
            value: { row in try PGRecordRow.decode(row) })
    }
}

extension BatchedReader.Read where Key == IdempotencyKeyID, Value == IdempotencyRecord {
    static var idempotencyKeys: Self {
        Self(
            name: "idempotency",
            statement: """
                SELECT i.requester, i.key, i.request_hash, i.status, i.body, i.created_at
                FROM unnest($1::text[], $2::text[]) AS k(requester, key)
                JOIN idempotency_keys i ON i.requester = k.requester AND i.key = k.key
                """,
            parameters: { keys in
                [IdempotencyReader.textArray(keys.map(\.requester)), IdempotencyReader.textArray(keys.map(\.key))]
            },
            key: { row in IdempotencyKeyID(requester: try row.decode("requester"), key: try row.decode("key")) },
            value: { row in try PGIdempotencyRow.decode(row) })
    }
}
