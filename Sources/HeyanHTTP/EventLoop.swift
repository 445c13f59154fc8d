#if canImport(Glibc)
import Glibc
#endif
import CLinux
import HeyanDomain
import Synchronization

/// Something registered with an ``EventLoop`` for readiness events on one file descriptor.
/// Called only on the loop's thread.
protocol EventLoopHandler: AnyObject {
    /// `events` is the epoll event mask (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP, EPOLLRDHUP).
    func handle(events: UInt32)
    /// Periodic check of deadlines; `now` is the loop clock's ``ServiceClock/monotonicNanoseconds()``.
    func tick(now: UInt64)
}

/// One thread running an epoll loop over non-blocking sockets.
///
/// heyan runs one loop per core. Every connection belongs to exactly one loop and is touched only
/// on that loop's thread; other threads hand work to a loop with ``execute(_:)``, which queues the
/// closure and wakes the loop through an eventfd.
public final class EventLoop: @unchecked Sendable {
    // @unchecked: `handlers`, `tickers` and `running` are touched only on the loop thread; the task
    // queue is behind a Mutex and the eventfd write is thread-safe.
    private let epollFD: Int32
    private let wakeFD: Int32
    private var handlers: [EventLoopHandler?] = []
    private var tickers: [ObjectIdentifier: EventLoopHandler] = [:]
    private let tasks = Mutex<[@Sendable () -> Void]>([])
    private let wakePending = Atomic<Bool>(false)
    private let stopRequested = Atomic<Bool>(false)
    private var threadID: pthread_t?
    /// Interval between deadline checks.
    let tickNanoseconds: UInt64
    public let index: Int
    /// The time deadlines are judged by. The tick itself is real time (epoll's timeout): with a
    /// manual clock a deadline passed by advancing the clock is seen at the next tick.
    let clock: any ServiceClock

    public init(index: Int, tickMilliseconds: Int = 250, clock: any ServiceClock = SystemClock()) throws {
        self.index = index
        self.clock = clock
        self.tickNanoseconds = UInt64(tickMilliseconds) * 1_000_000
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw SystemError(code: "system.epoll", call: "epoll_create1") }
        wakeFD = eventfd(0, Int32(EFD_NONBLOCK | EFD_CLOEXEC))
        guard wakeFD >= 0 else {
            close(epollFD)
            throw SystemError(code: "system.eventfd", call: "eventfd")
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeFD
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, wakeFD, &event) == 0 else {
            close(wakeFD)
            close(epollFD)
            throw SystemError(code: "system.epoll", call: "epoll_ctl(ADD eventfd)")
        }
    }

    deinit {
        close(wakeFD)
        close(epollFD)
    }

    /// True when called on this loop's thread.
    public var inLoopThread: Bool {
        guard let threadID else { return false }
        return pthread_equal(threadID, pthread_self()) != 0
    }

    /// Runs `task` on the loop thread, soon. Safe from any thread.
    public func execute(_ task: @escaping @Sendable () -> Void) {
        tasks.withLock { $0.append(task) }
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            var one: UInt64 = 1
            _ = write(wakeFD, &one, 8)
        }
    }

    /// Asks the loop to return from ``run()`` after the current iteration.
    public func stop() {
        stopRequested.store(true, ordering: .releasing)
        execute {}
    }

    // MARK: registration (loop thread only)

    func register(fd: Int32, events: UInt32, handler: EventLoopHandler) throws {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        guard epoll_ctl(epollFD, EPOLL_CTL_ADD, fd, &event) == 0 else {
            throw SystemError(code: "system.epoll", call: "epoll_ctl(ADD)")
        }
        let slot = Int(fd)
        if slot >= handlers.count { handlers.append(contentsOf: repeatElement(nil, count: slot - handlers.count + 64)) }
        handlers[slot] = handler
    }

    func modify(fd: Int32, events: UInt32) {
        var event = epoll_event()
        event.events = events
        event.data.fd = fd
        _ = epoll_ctl(epollFD, EPOLL_CTL_MOD, fd, &event)
    }

    /// Removes `fd` from the loop. Call before closing the descriptor.
    func deregister(fd: Int32) {
        _ = epoll_ctl(epollFD, EPOLL_CTL_DEL, fd, nil)
        let slot = Int(fd)
        if slot < handlers.count { handlers[slot] = nil }
    }

    /// Adds `handler` to the periodic deadline checks.
    func addTicker(_ handler: EventLoopHandler) { tickers[ObjectIdentifier(handler)] = handler }
    func removeTicker(_ handler: EventLoopHandler) { tickers[ObjectIdentifier(handler)] = nil }

    /// Hooks run at the end of every loop iteration (e.g. flushing buffered logs).
    var afterIteration: [() -> Void] = []

    // MARK: running

    /// Runs the loop on the calling thread until ``stop()``.
    public func run() {
        threadID = pthread_self()
        let capacity = 256
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        let real = SystemClock()
        var nextTick = real.monotonicNanoseconds() &+ tickNanoseconds
        while !stopRequested.load(ordering: .acquiring) {
            let now = real.monotonicNanoseconds()
            let timeout = now >= nextTick ? 0 : Int32((nextTick - now) / 1_000_000) + 1
            let count = epoll_wait(epollFD, events, Int32(capacity), timeout)
            if count < 0 {
                if errno == EINTR { continue }
                break
            }
            for i in 0..<Int(count) {
                let fd = events[i].data.fd
                if fd == wakeFD {
                    var value: UInt64 = 0
                    _ = read(wakeFD, &value, 8)
                    continue
                }
                let slot = Int(fd)
                if slot < handlers.count, let handler = handlers[slot] {
                    handler.handle(events: events[i].events)
                }
            }
            runTasks()
            let after = real.monotonicNanoseconds()
            if after >= nextTick {
                nextTick = after &+ tickNanoseconds
                let now = clock.monotonicNanoseconds()
                for handler in Array(tickers.values) { handler.tick(now: now) }
            }
            for hook in afterIteration { hook() }
        }
        runTasks()
    }

    private func runTasks() {
        wakePending.store(false, ordering: .releasing)
        while true {
            let batch = tasks.withLock { queue -> [@Sendable () -> Void] in
                let taken = queue
                queue.removeAll(keepingCapacity: true)
                return taken
            }
            if batch.isEmpty { return }
            for task in batch { task() }
        }
    }
}
