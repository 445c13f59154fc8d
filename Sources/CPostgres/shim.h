#ifndef HEYAN_CPOSTGRES_SHIM_H
#define HEYAN_CPOSTGRES_SHIM_H
// libpq, the PostgreSQL client library (Debian: libpq-dev, headers in /usr/include/postgresql, found
// through pkg-config "libpq"). heyan needs libpq 14 or newer for pipeline mode.
#include <libpq-fe.h>

#ifndef LIBPQ_HAS_PIPELINING
#error "heyan needs libpq 14 or newer (pipeline mode)"
#endif

/// PG_DIAG_* are character constants defined as macros ('C', 'M', …); exposed as functions so Swift
/// code names them rather than repeating the letters.
static inline int heyan_pg_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
static inline int heyan_pg_diag_severity(void) { return PG_DIAG_SEVERITY_NONLOCALIZED; }
static inline int heyan_pg_diag_message_primary(void) { return PG_DIAG_MESSAGE_PRIMARY; }
static inline int heyan_pg_diag_message_detail(void) { return PG_DIAG_MESSAGE_DETAIL; }
static inline int heyan_pg_diag_message_hint(void) { return PG_DIAG_MESSAGE_HINT; }
static inline int heyan_pg_diag_constraint_name(void) { return PG_DIAG_CONSTRAINT_NAME; }

#endif
