#ifndef HEYAN_SQLITE_MEMORY_STATISTICS_H
#define HEYAN_SQLITE_MEMORY_STATISTICS_H

/// Turns SQLite's memory statistics off; must run before SQLite initializes (sqlite3_config returns
/// SQLITE_MISUSE afterwards). With them on — the default, and Debian's build also omits the
/// lookaside allocator — every sqlite3_malloc and sqlite3_free of every connection takes one
/// process-wide mutex, which the writer and the readers on the event loops contend for
/// (docs/storage.md, "Process-wide settings"). Returns SQLITE_OK, or SQLite's error.
int heyan_sqlite_disable_memory_statistics(void);

#endif
