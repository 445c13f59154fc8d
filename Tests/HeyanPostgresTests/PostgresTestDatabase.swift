import Glibc
import HeyanPostgres
import HeyanTestSupport

/// Shared by the suites: the process-wide throwaway cluster and a schema of the test's own in it.
enum PostgresTestDatabase {
    /// Whether the suites can run; shown by `swift test` when they skip.
    static let isAvailable = PostgresCluster.unavailableReason == nil

    /// A fresh schema on the shared cluster and a connection string whose search_path is that schema.
    static func fresh() async throws -> (cluster: PostgresCluster, conninfo: String) {
        let cluster = try await PostgresCluster.shared()
        return (cluster, try await cluster.createSchema().conninfo)
    }

    /// A connection to a fresh schema on the shared cluster.
    static func connect() async throws -> PostgresConnection {
        try PostgresConnection(conninfo: await fresh().conninfo)
    }
}

/// A real thread (not the cooperative pool, which blocking libpq calls would starve) running `body`;
/// ``join()`` waits for it and returns what it returned.
final class BackgroundThread<T: Sendable>: @unchecked Sendable {
    // @unchecked: `thread` never changes; the result travels in a ValueBox.
    private let thread: pthread_t

    init(_ body: @escaping @Sendable () -> T) {
        let box = ValueBox<T>()
        let start = ThreadStart { box.value = body() }
        var thread = pthread_t()
        pthread_create(
            &thread, nil,
            { raw in
                Unmanaged<ThreadStart>.fromOpaque(raw!).takeRetainedValue().body()
                return nil
            }, Unmanaged.passRetained(start).toOpaque())
        self.thread = thread
        self.box = box
    }

    private let box: ValueBox<T>

    func join() -> T {
        pthread_join(thread, nil)
        return box.value!
    }
}

/// What a thread fills in before it ends; read after pthread_join.
private final class ValueBox<T>: @unchecked Sendable {
    // @unchecked: written by one thread, read by another only after joining it.
    var value: T?
}

/// A thread's body, non-generic so a C function pointer can start it.
private final class ThreadStart {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// Runs `body(0)…body(count-1)` on that many threads at once and returns their results in order.
func onThreads<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) -> T) -> [T] {
    let threads = (0..<count).map { index in BackgroundThread { body(index) } }
    return threads.map { $0.join() }
}
