import Glibc
import Synchronization
import Testing

@testable import HeyanStorage
import HeyanThreads

/// The one `pthread_create` wrapper (``startNamedThread(name:detached:_:)``) and the store's use of it:
/// the name `make bench` and `thread-cpu.sh` find a thread by, cut to the kernel's 15 bytes, and a
/// joinable thread that has run its body by the time it is joined.
struct NamedThreadTests {
    static func ownName() -> String {
        guard let file = fopen("/proc/thread-self/comm", "r") else { return "?" }
        defer { fclose(file) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, Int32(buffer.count), file) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    @Test func aStoreThreadIsNamedAndRunsBeforeItIsJoined() throws {
        let seen = Mutex<String?>(nil)
        let thread = try startStorageThread(name: "heyan-test-thread-long", what: "a test thread") {
            seen.withLock { $0 = Self.ownName() }
        }
        #expect(pthread_join(thread, nil) == 0)
        #expect(seen.withLock { $0 } == "heyan-test-thre")
    }

    @Test func aDetachedThreadRuns() throws {
        let done = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
        defer { sem_destroy(done); done.deallocate() }
        sem_init(done, 0, 0)
        nonisolated(unsafe) let signal = done
        _ = try startNamedThread(name: "heyan-detached", detached: true) { sem_post(signal) }
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        deadline.tv_sec += 5
        #expect(sem_timedwait(done, &deadline) == 0)
    }
}
