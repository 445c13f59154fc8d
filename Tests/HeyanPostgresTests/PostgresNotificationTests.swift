import Glibc
import HeyanPostgres
import HeyanTestSupport
import Testing

@Suite(
    "PostgresConnection LISTEN/NOTIFY",
    .enabled(if: PostgresTestDatabase.isAvailable, "needs root to start PostgreSQL as the postgres user"))
struct PostgresNotificationTests {
    @Test("a notification committed on one connection reaches a listener on another; a rolled-back one does not")
    func delivery() async throws {
        let (_, conninfo) = try await PostgresTestDatabase.fresh()
        let listener = try PostgresConnection(conninfo: conninfo)
        let sender = try PostgresConnection(conninfo: conninfo)
        try listener.listen("queue changed")
        #expect(listener.socketDescriptor >= 0)
        #expect(try listener.notifications().isEmpty)

        #expect(throws: PostgresError.self) {
            try sender.transaction { connection in
                try connection.notify("queue changed", payload: "rolled-back")
                throw PostgresError(message: "abandon")
            }
        }
        try sender.transaction { connection in try connection.notify("queue changed", payload: "v-1") }
        try sender.notify("other channel", payload: "not listened to")
        let received = try listener.waitForNotifications(timeout: 5)
        #expect(
            received == [PostgresNotification(channel: "queue changed", payload: "v-1", senderPID: sender.backendPID)])
        #expect(try listener.waitForNotifications(timeout: 0.2).isEmpty)

        try listener.unlisten("queue changed")
        try sender.notify("queue changed", payload: "after unlisten")
        #expect(try listener.waitForNotifications(timeout: 0.2).isEmpty)
    }

    @Test("a listener blocked in poll wakes when another thread's commit notifies")
    func wakesWhileWaiting() async throws {
        let (_, conninfo) = try await PostgresTestDatabase.fresh()
        let listener = try PostgresConnection(conninfo: conninfo)
        try listener.listen("verification")
        let sender = BackgroundThread { () -> String? in
            do {
                let sender = try PostgresConnection(conninfo: conninfo)
                usleep(300_000)
                try sender.notify("verification", payload: "id-42")
                return nil
            } catch {
                return "\(error)"
            }
        }
        let started = monotonicSeconds()
        let received = try listener.waitForNotifications(timeout: 10)
        let waited = monotonicSeconds() - started
        #expect(sender.join() == nil)
        #expect(received.map(\.payload) == ["id-42"])
        // It slept in poll until the commit (not a busy loop that returned at once, not the full timeout).
        #expect(waited > 0.1 && waited < 5)
    }
}
