#ifndef HEYAN_SQLITE_WAL_BUFFER_H
#define HEYAN_SQLITE_WAL_BUFFER_H

/// Registers, as SQLite's default VFS, the system's default VFS with one change: the appends to a
/// write-ahead log are gathered in memory and handed to the kernel in as few writes as the system
/// VFS allows (128 KiB each) when a transaction's commit frame is complete, or earlier when SQLite
/// syncs, reads, truncates, sizes or closes the log, or writes elsewhere in it (docs/storage.md,
/// "WAL writes"). SQLite writes each WAL frame as two calls — its 24-byte header, then its page —
/// so a commit of 35 pages was 70 `pwrite(2)` calls; now it is two. A transaction's frames are all
/// in the file before SQLite publishes them in the WAL index, and before its sync.
///
/// Call once, before the first connection opens. Returns SQLITE_OK, or SQLite's error.
int heyan_sqlite_register_wal_buffer(void);

/// The name of the VFS `heyan_sqlite_register_wal_buffer` registers.
const char *heyan_sqlite_wal_buffer_vfs_name(void);

#endif
