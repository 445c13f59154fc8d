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

extension BatchedReader.Read {
    /// The rows of `table` (its `columns`) whose two text key columns equal a lookup's: the keys travel as
    /// two arrays paired by `unnest` and are joined on the table's primary key (its generic plan: a
    /// nested loop of index scans). `fields` splits a key into the two columns' values, `makeKey` puts
    /// a row's two values together again.
    static func keyed(
        by keyColumns: (String, String), in table: String, columns: String, name: String,
        fields: @escaping @Sendable (Key) -> (String, String), makeKey: @escaping @Sendable (String, String) -> Key,
        value: @escaping @Sendable (PostgresRow) throws -> Value
    ) -> Self {
        let (first, second) = keyColumns
        return Self(
            name: name,
            statement: """
                SELECT \(columns) FROM unnest($1::text[], $2::text[]) AS k(\(first), \(second))
                JOIN \(table) t ON t.\(first) = k.\(first) AND t.\(second) = k.\(second)
                """,
            parameters: { keys in
                let pairs = keys.map(fields)
                return [.array(pairs.map { .text($0.0) }), .array(pairs.map { .text($0.1) })]
            },
            key: { row in makeKey(try row.decode(first), try row.decode(second)) },
            value: value)
    }
}

extension BatchedReader.Read where Key == RecordKey, Value == SharedRecord {
    static var records: Self {
        .keyed(
            by: ("certificate_type", "subject_id"), in: "records",
            columns: "t.certificate_type, t.subject_id, t.owner, t.claims, t.updated_at", name: "records",
            fields: { ($0.certificateType, $0.subjectID) }, makeKey: RecordKey.init, value: PGRecordRow.decode)
    }
}

extension BatchedReader.Read where Key == IdempotencyKeyID, Value == IdempotencyRecord {
    static var idempotencyKeys: Self {
        .keyed(
            by: ("requester", "key"), in: "idempotency_keys",
            columns: "t.requester, t.key, t.request_hash, t.status, t.body, t.created_at", name: "idempotency",
            fields: { ($0.requester, $0.key) }, makeKey: IdempotencyKeyID.init, value: PGIdempotencyRow.decode)
    }
}
