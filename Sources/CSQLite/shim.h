#ifndef HEYAN_CSQLITE_SHIM_H
#define HEYAN_CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a macro casting -1 to a destructor pointer; Swift cannot import it.
static inline sqlite3_destructor_type heyan_sqlite_transient(void) { return SQLITE_TRANSIENT; }
/// SQLITE_STATIC: the bound buffer outlives the statement step.
static inline sqlite3_destructor_type heyan_sqlite_static(void) { return SQLITE_STATIC; }

/// Extended result codes are macros of the form `(SQLITE_X | (n<<8))`, which Swift cannot import.
/// Only the ones heyan branches on are exposed; add more here as the need arises.
static inline int heyan_sqlite_constraint_primarykey(void) { return SQLITE_CONSTRAINT_PRIMARYKEY; }
static inline int heyan_sqlite_constraint_unique(void) { return SQLITE_CONSTRAINT_UNIQUE; }
static inline int heyan_sqlite_constraint_foreignkey(void) { return SQLITE_CONSTRAINT_FOREIGNKEY; }
static inline int heyan_sqlite_constraint_notnull(void) { return SQLITE_CONSTRAINT_NOTNULL; }
static inline int heyan_sqlite_constraint_check(void) { return SQLITE_CONSTRAINT_CHECK; }
static inline int heyan_sqlite_busy_snapshot(void) { return SQLITE_BUSY_SNAPSHOT; }

#endif
