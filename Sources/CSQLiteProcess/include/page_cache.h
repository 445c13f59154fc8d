#ifndef HEYAN_SQLITE_PAGE_CACHE_H
#define HEYAN_SQLITE_PAGE_CACHE_H

/// Installs SQLite's own page cache (pcache1) behind a thin layer that gives the lock page — the
/// page at byte offset 1 GiB, never part of a database — the key 0 instead of its number
/// (262,145 with 4 KiB pages). SQLite 3.40's b-tree balance parks a page under the lock page's
/// number for a moment while it swaps two pages into ascending order; pcache1 then remembers that
/// number as its largest key, and the truncation at the end of every transaction that follows
/// (`pager_end_transaction`) walks the whole cache — all 8,192 pages of the writer's 32 MiB — to
/// drop pages past the end of the database that do not exist. Under key 0 pcache1's largest key
/// stays the database's last page, and that truncation has nothing to walk (docs/storage.md,
/// "Page cache").
///
/// Call once, before SQLite initializes (before the first connection opens). Returns SQLITE_OK, or
/// SQLite's error (SQLITE_MISUSE once SQLite is initialized).
int heyan_sqlite_install_page_cache(void);

/// Tests only, for the calling thread (a connection's cache works on the thread that steps its
/// statements): whether the lock page's number is translated (1, the default) or passed on (0).
void heyan_sqlite_page_cache_translate_on_this_thread(int on);

/// Tests only: how many times a cache operation on this thread named the lock page.
long heyan_sqlite_page_cache_lock_page_keys_on_this_thread(void);

/// Tests only: how many truncations on this thread had to look at 1,024 or more keys past their
/// limit — each a walk over much of the cache.
long heyan_sqlite_page_cache_wide_truncations_on_this_thread(void);

#endif
