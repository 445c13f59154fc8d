// SQLite's memory statistics off (include/memory_statistics.h). sqlite3_config is variadic, which
// Swift cannot call.
#include "memory_statistics.h"

#include <sqlite3.h>

int heyan_sqlite_disable_memory_statistics(void) { return sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }
