#if canImport(Glibc)
import Glibc
#endif
import CLinux
import HeyanDomain
import HeyanHTTP

/// One load thread: an epoll loop over its share of the virtual users and their connections.
///
/// Closed loop: a user starts its next transaction as soon as the last one completes. Open loop:
/// transactions become due on an ``OpenLoopSchedule`` and go to whichever user is idle; a due
/// transaction with no idle user waits (and its latency still runs from its intended time).
/// Created and run on its own thread; nothing in it is shared.
final class BenchWorker {
    private struct User {
        var slots: (Int, Int)  // connection slots by role index; .1 is -1 without an owner side
        var step = 0
        var intended: UInt64 = 0
        var active = false
        var finished = false  // idle scenario: its one request is done
    }

    private let plan: BenchPlan
    private let epollFD: Int32
    private var connections: [BenchConnection] = []
    private var users: [User] = []
    private var scripts: [BenchScript] = []
    private var accounting: RunAccounting
    private var schedule: OpenLoopSchedule?
    private var idleUsers: [Int] = []
    private var retrying: [(user: Int, at: UInt64)] = []
    private let runStart: UInt64
    private let end: UInt64
    private let timeout: UInt64
    private var closedIdle: UInt64 = 0
    private var usePwait2 = true

    /// - Parameters:
    ///   - index: this worker's number (0..<threads); it takes users index, index+threads, ….
    ///   - runStart: monotonic nanoseconds at which every worker starts (warmup begins).
    init(index: Int, plan: BenchPlan, contexts: BenchContexts, subjects: SubjectPool?, runStart: UInt64) throws {
        self.plan = plan
        self.runStart = runStart
        let warmup = plan.scenario == .idle ? 0 : plan.warmup
        let measureStart = runStart + UInt64(warmup * 1e9)
        end = measureStart + UInt64(plan.duration * 1e9)
        timeout = UInt64(plan.timeout * 1e9)
        accounting = RunAccounting(window: (plan.scenario == .idle ? runStart : measureStart)..<end)
        epollFD = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollFD >= 0 else { throw SystemError(code: "bench.epoll", call: "epoll_create1") }

        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(plan.port).bigEndian
        guard inet_pton(AF_INET, plan.host, &address.sin_addr) == 1 else {
            throw SystemError(code: "bench.address", call: "inet_pton(\(plan.host))", errnoValue: EINVAL)
        }

        let userCount = plan.connections / plan.threads + (index < plan.connections % plan.threads ? 1 : 0)
        let cursor = subjects.map { SubjectCursor(pool: $0, worker: index, workers: plan.threads) }
        let fixed: FixedRequestScript?
        switch plan.scenario {
        case .healthz, .idle:
            fixed = FixedRequestScript(RequestBuffer.request(method: "GET", target: "/healthz", body: nil)) { $0 == 200 }
        case .url:
            fixed = FixedRequestScript(RequestBuffer.request(method: plan.method, target: plan.path, body: plan.body)) {
                $0 >= 200 && $0 < 300
            }
        case .handshake:
            fixed = FixedRequestScript(
                RequestBuffer.request(method: plan.method, target: plan.path, body: plan.body, extraHeaders: "Connection: close\r\n")
            ) { $0 >= 200 && $0 < 300 }
        case .dataSharing, .queue:
            fixed = nil
        }
        for user in 0..<userCount {
            let script: BenchScript
            switch plan.scenario {
            case .dataSharing: script = DataSharingScript(cursor: cursor!)
            case .queue: script = QueueRoundTripScript(cursor: cursor!)
            default: script = fixed!
            }
            scripts.append(script)
            var slots = (-1, -1)
            for (roleIndex, role) in script.connectionRoles.enumerated() {
                let slot = connections.count
                connections.append(
                    BenchConnection(
                        slot: slot, user: user, role: roleIndex, context: role == .owner ? contexts.owner! : contexts.requester,
                        epollFD: epollFD, address: address, serverName: plan.serverName))
                if roleIndex == 0 { slots.0 = slot } else { slots.1 = slot }
            }
            users.append(User(slots: slots))
        }
        if let rate = plan.rate {
            let share = rate / Double(plan.threads)
            schedule = OpenLoopSchedule(
                ratePerSecond: share, start: runStart, phase: UInt64(Double(index) * 1e9 / rate))
        }
    }

    deinit {
        connections.removeAll()  // closes every socket before the epoll descriptor
        close(epollFD)
    }

    /// Runs until the end of the measurement window and returns what was measured.
    func run() -> RunAccounting {
        let capacity = 512
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }

        while SystemClock().monotonicNanoseconds() < runStart { usleep(200) }
        var now = SystemClock().monotonicNanoseconds()
        if schedule == nil {
            for user in users.indices { startTransaction(user, intended: now, now: now) }
        } else {
            idleUsers = Array(users.indices.reversed())
        }
        var nextHousekeeping = now &+ 10_000_000
        while true {
            now = SystemClock().monotonicNanoseconds()
            if now >= end { break }
            if schedule != nil { dispatchDue(now: now) }
            if now >= nextHousekeeping {
                housekeeping(now: now)
                nextHousekeeping = now &+ 10_000_000
            }
            var wake = min(end, nextHousekeeping)
            if let schedule, !idleUsers.isEmpty { wake = min(wake, schedule.nextIntendedTime) }
            let count = wait(events, capacity: capacity, nanoseconds: wake > now ? wake - now : 0)
            for index in 0..<max(0, count) {
                let slot = Int(events[index].data.u64)
                handle(connection: connections[slot], events: events[index].events)
            }
        }

        if let schedule { accounting.dropped = UInt64(schedule.backlog(at: end, window: accounting.window)) }
        accounting.connectionsOpen = UInt64(connections.filter { $0.state == .open }.count)
        accounting.connectionsClosedByServer = closedIdle
        for connection in connections { connection.close() }
        return accounting
    }

    private func wait(_ events: UnsafeMutablePointer<epoll_event>, capacity: Int, nanoseconds: UInt64) -> Int {
        if usePwait2 {
            var timeout = timespec(tv_sec: Int(nanoseconds / 1_000_000_000), tv_nsec: Int(nanoseconds % 1_000_000_000))
            let count = epoll_pwait2(epollFD, events, Int32(capacity), &timeout, nil)
            if count >= 0 || errno == EINTR { return Int(count) }
            if errno != ENOSYS { return 0 }
            usePwait2 = false
        }
        let milliseconds = Int32(min(nanoseconds / 1_000_000 + (nanoseconds % 1_000_000 == 0 ? 0 : 1), 1_000))
        return Int(epoll_wait(epollFD, events, Int32(capacity), milliseconds))
    }

    // MARK: transactions

    private func startTransaction(_ user: Int, intended: UInt64, now: UInt64) {
        users[user].step = 0
        users[user].intended = intended
        users[user].active = true
        accounting.started(intended: intended, now: now)
        sendStep(user, now: now)
    }

    private func sendStep(_ user: Int, now: UInt64) {
        let (index, bytes) = scripts[user].request(step: users[user].step)
        let connection = connections[index == 0 ? users[user].slots.0 : users[user].slots.1]
        process(connection.send(bytes, now: now), on: connection, now: now)
    }

    private func handle(connection: BenchConnection, events: UInt32) {
        var now = SystemClock().monotonicNanoseconds()
        var outcome = connection.handle(events: events, now: now)
        while true {
            let progressed: Bool
            if case .response = outcome { progressed = true } else { progressed = false }
            process(outcome, on: connection, now: now)
            // OpenSSL may hold the next bytes already (read-ahead); epoll would not report them.
            guard progressed, connection.awaitingResponse, connection.hasBufferedInput else { return }
            now = SystemClock().monotonicNanoseconds()
            outcome = connection.handle(events: EPOLLIN.rawValue, now: now)
        }
    }

    private func process(_ outcome: BenchConnection.Outcome, on connection: BenchConnection, now: UInt64) {
        switch outcome {
        case .nothing:
            return
        case .ready:
            accounting.handshake(now: now)
        case .response(let response):
            let user = connection.user
            accounting.response(status: response.status, now: now)
            let result = scripts[user].response(
                step: users[user].step, status: response.status, body: connection.body(of: response))
            connection.consume(response)
            switch result {
            case .next:
                users[user].step += 1
                sendStep(user, now: now)
            case .done:
                accounting.completed(intended: users[user].intended, now: now)
                finishTransaction(user, now: now)
            case .unexpectedStatus:
                accounting.error(.httpStatus, "step \(users[user].step): status \(response.status)")
                abort(user, now: now, backoff: 0)
            case .unexpectedBody(let reason):
                accounting.error(.body, reason)
                abort(user, now: now, backoff: 0)
            }
        case .peerClosedIdle:
            if plan.scenario == .idle { closedIdle += 1 }
        case .failed(let kind, let message):
            accounting.error(kind, message)
            let backoff: UInt64 = kind == .connect || kind == .handshake ? 100_000_000 : 0
            abort(connection.user, now: now, backoff: backoff)
        }
    }

    private func finishTransaction(_ user: Int, now: UInt64) {
        users[user].active = false
        if plan.scenario == .idle {
            users[user].finished = true
        } else if schedule != nil {
            idleUsers.append(user)
        } else if now < end {
            startTransaction(user, intended: now, now: now)
        }
    }

    /// Gives up the user's current transaction; it starts again (or returns to the idle users)
    /// from the housekeeping pass, after `backoff` nanoseconds.
    private func abort(_ user: Int, now: UInt64, backoff: UInt64) {
        guard users[user].active else { return }
        users[user].active = false
        for slot in [users[user].slots.0, users[user].slots.1] where slot >= 0 && connections[slot].isBusy {
            connections[slot].close()  // a half-done request cannot be reused
        }
        retrying.append((user, now &+ backoff))
    }

    // MARK: open loop

    private func dispatchDue(now: UInt64) {
        guard var schedule else { return }
        while !idleUsers.isEmpty, let intended = schedule.takeDue(now: now) {
            startTransaction(idleUsers.removeLast(), intended: intended, now: now)
        }
        self.schedule = schedule
    }

    // MARK: housekeeping

    /// Every 10 ms: time out slow connects and requests, restart aborted users.
    private func housekeeping(now: UInt64) {
        for connection in connections where connection.isBusy && now &- connection.busySince > timeout {
            let kind = connection.state == .open ? "no response" : "connect and handshake"
            accounting.error(.timeout, "\(kind) within \(plan.timeout) s")
            let user = connection.user
            connection.close()
            abort(user, now: now, backoff: 0)
        }
        guard !retrying.isEmpty else { return }
        var waiting: [(user: Int, at: UInt64)] = []
        let due = retrying
        retrying = []
        for entry in due {
            if entry.at > now {
                waiting.append(entry)
            } else if plan.scenario == .idle {
                startTransaction(entry.user, intended: now, now: now)
            } else if schedule != nil {
                idleUsers.append(entry.user)
            } else {
                startTransaction(entry.user, intended: now, now: now)
            }
        }
        retrying += waiting
    }
}

/// The TLS contexts a run shares between its workers.
struct BenchContexts: Sendable {
    let requester: BenchTLSContext
    let owner: BenchTLSContext?
}
