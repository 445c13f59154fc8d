#ifndef HEYAN_CSQLITE_SHIM_H
#define HEYAN_CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a macro casting -1 to a destructor pointer; Swift cannot import it.
static inline sqlite3_destructor_type heyan_sqlite_transient(void) { return SQLITE_TRANSIENT; }
/// SQLITE_STATIC: the bound buffer outlives the statement step.
static inline sqlite3_destructor_type heyan_sqlite_static(void) { return SQLITE_STATIC; }

#endif
