import CSQLite
import Glibc

/// heyan's schema history. Append new migrations at the end; never edit a released one.
public enum HeyanSchema {
    /// Every migration, in order.
    public static let migrations: [Migration] = [
        Migration(version: 1, name: "service-meta") { db in
            // Facts about this installation. `instance_id` tells one database apart from another
            // (restored backups, copies), `schema_created_at` when it began; the server logs both.
            try db.execute(
                """
                CREATE TABLE service_meta (
                    key   TEXT PRIMARY KEY,
                    value TEXT NOT NULL
                ) STRICT, WITHOUT ROWID;
                """)
            try db.execute(
                "INSERT INTO service_meta (key, value) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
                arguments: [.text(ServiceMetaKey.schemaCreatedAt)])
            try db.execute(
                "INSERT INTO service_meta (key, value) VALUES (?, ?)",
                arguments: [.text(ServiceMetaKey.instanceID), .text(try randomHex(byteCount: 16))])
        }
    ]

    /// A migrator for ``migrations``.
    public static var migrator: Migrator { Migrator(migrations) }

    /// The version a database has once every migration ran.
    public static var latestVersion: Int { migrations.count }
}

/// Keys of the `service_meta` table.
public enum ServiceMetaKey {
    /// UTC time (ISO 8601, milliseconds) the schema was first created.
    public static let schemaCreatedAt = "schema_created_at"
    /// 128 random bits in lowercase hex, fixed for the life of the database.
    public static let instanceID = "instance_id"
}

/// `byteCount` bytes from the kernel's CSPRNG (`/dev/urandom`), as lowercase hex.
func randomHex(byteCount: Int) throws -> String {
    var bytes = [UInt8](repeating: 0, count: byteCount)
    let descriptor = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else { throw randomFailure(errno) }
    defer { _ = close(descriptor) }
    var filled = 0
    while filled < byteCount {
        let count = bytes.withUnsafeMutableBytes { buffer in
            read(descriptor, buffer.baseAddress! + filled, byteCount - filled)
        }
        if count > 0 {
            filled += count
        } else if count < 0, errno == EINTR {
            continue
        } else {
            throw randomFailure(count == 0 ? EIO : errno)
        }
    }
    let digits = Array("0123456789abcdef".utf8)
    var hex: [UInt8] = []
    hex.reserveCapacity(byteCount * 2)
    for byte in bytes {
        hex.append(digits[Int(byte >> 4)])
        hex.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: hex, as: UTF8.self)
}

private func randomFailure(_ failure: Int32) -> SQLiteError {
    SQLiteError(
        code: "sqlite.random", resultCode: SQLITE_ERROR,
        message: "cannot read /dev/urandom: \(String(cString: strerror(failure)))")
}
