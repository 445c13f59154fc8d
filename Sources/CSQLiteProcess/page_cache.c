// SQLite's own page cache with the lock page's number kept out of it (include/page_cache.h).
#include "page_cache.h"

#include <sqlite3.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>

/// SQLite's PENDING_BYTE: the file offset of its locking bytes (1 GiB). The page holding it — the
/// lock page — is never part of a database (sqlite.org/fileformat2.html, "The Lock-Byte Page").
#define PENDING_BYTE 0x40000000u

/// A truncation that has to look at more keys than this, beyond its limit, walks a large part of
/// the cache (pcache1 visits the hash buckets of every key from the limit up to its largest key, or
/// all of them).
#define WIDE_TRUNCATION 1024u

/// One of SQLite's caches, the lock page's number for its page size, and the largest key pcache1
/// has been given since its last truncation (what pcache1 itself keeps as `iMaxKey`).
typedef struct KeyedCache {
    sqlite3_pcache *inner;
    unsigned lockPage;
    unsigned largestKey;
} KeyedCache;

static sqlite3_pcache_methods2 inner;

// For the tests, per thread (a connection's cache works on the thread that steps its statement):
// the translation switched off, and what happened. Allocated on a thread's first lock-page key or
// test call, freed when the thread ends.
typedef struct ThreadRecord {
    int untranslated;
    long lockPageKeys;
    long wideTruncations;
} ThreadRecord;

static pthread_key_t threadRecordKey;
static pthread_once_t threadRecordOnce = PTHREAD_ONCE_INIT;

static void makeThreadRecordKey(void) { pthread_key_create(&threadRecordKey, free); }

/// This thread's record; NULL if it has none and `create` is 0, or if memory ran out.
static ThreadRecord *threadRecord(int create) {
    pthread_once(&threadRecordOnce, makeThreadRecordKey);
    ThreadRecord *record = pthread_getspecific(threadRecordKey);
    if (record == NULL && create) {
        record = calloc(1, sizeof(ThreadRecord));
        if (record != NULL && pthread_setspecific(threadRecordKey, record) != 0) {
            free(record);
            record = NULL;
        }
    }
    return record;
}

static sqlite3_pcache *wrapped(sqlite3_pcache *cache) { return ((KeyedCache *)cache)->inner; }

/// The key SQLite's cache sees for page `key`: 0, a number no page has, for the lock page.
static unsigned keyFor(sqlite3_pcache *cache, unsigned key) {
    if (key != ((KeyedCache *)cache)->lockPage) return key;
    ThreadRecord *record = threadRecord(1);
    if (record == NULL) return 0;
    record->lockPageKeys += 1;
    return record->untranslated ? key : 0;
}

static void gave(sqlite3_pcache *cache, unsigned key) {
    KeyedCache *keyed = (KeyedCache *)cache;
    if (key > keyed->largestKey) keyed->largestKey = key;
}

static int cacheInit(void *argument) { return inner.xInit ? inner.xInit(inner.pArg) : SQLITE_OK; }
static void cacheShutdown(void *argument) {
    if (inner.xShutdown) inner.xShutdown(inner.pArg);
}

static sqlite3_pcache *cacheCreate(int pageSize, int extraSize, int purgeable) {
    KeyedCache *cache = sqlite3_malloc(sizeof(KeyedCache));
    if (cache == NULL) return NULL;
    cache->inner = inner.xCreate(pageSize, extraSize, purgeable);
    if (cache->inner == NULL) {
        sqlite3_free(cache);
        return NULL;
    }
    cache->lockPage = pageSize > 0 ? PENDING_BYTE / (unsigned)pageSize + 1 : 0;
    cache->largestKey = 0;
    return (sqlite3_pcache *)cache;
}

static void cacheCachesize(sqlite3_pcache *cache, int pages) { inner.xCachesize(wrapped(cache), pages); }
static int cachePagecount(sqlite3_pcache *cache) { return inner.xPagecount(wrapped(cache)); }

static sqlite3_pcache_page *cacheFetch(sqlite3_pcache *cache, unsigned key, int createFlag) {
    unsigned given = keyFor(cache, key);
    sqlite3_pcache_page *page = inner.xFetch(wrapped(cache), given, createFlag);
    if (page != NULL && createFlag != 0) gave(cache, given);
    return page;
}

static void cacheUnpin(sqlite3_pcache *cache, sqlite3_pcache_page *page, int discard) {
    inner.xUnpin(wrapped(cache), page, discard);
}

static void cacheRekey(sqlite3_pcache *cache, sqlite3_pcache_page *page, unsigned oldKey, unsigned newKey) {
    unsigned given = keyFor(cache, newKey);
    inner.xRekey(wrapped(cache), page, keyFor(cache, oldKey), given);
    gave(cache, given);
}

/// A limit, not a key: passed on as it is. The lock page's key 0 is only ever held for the moment
/// of a swap inside one b-tree balance, never across a truncation.
static void cacheTruncate(sqlite3_pcache *cache, unsigned limit) {
    KeyedCache *keyed = (KeyedCache *)cache;
    if (limit <= keyed->largestKey) {
        if (keyed->largestKey - limit >= WIDE_TRUNCATION) {
            ThreadRecord *record = threadRecord(1);
            if (record != NULL) record->wideTruncations += 1;
        }
        keyed->largestKey = limit > 0 ? limit - 1 : 0;
    }
    inner.xTruncate(wrapped(cache), limit);
}

static void cacheDestroy(sqlite3_pcache *cache) {
    inner.xDestroy(wrapped(cache));
    sqlite3_free(cache);
}

static void cacheShrink(sqlite3_pcache *cache) {
    if (inner.xShrink) inner.xShrink(wrapped(cache));
}

int heyan_sqlite_install_page_cache(void) {
    int rc = sqlite3_config(SQLITE_CONFIG_GETPCACHE2, &inner);
    if (rc != SQLITE_OK) return rc;
    sqlite3_pcache_methods2 methods = {
        .iVersion = 2,
        .pArg = NULL,
        .xInit = cacheInit,
        .xShutdown = cacheShutdown,
        .xCreate = cacheCreate,
        .xCachesize = cacheCachesize,
        .xPagecount = cachePagecount,
        .xFetch = cacheFetch,
        .xUnpin = cacheUnpin,
        .xRekey = cacheRekey,
        .xTruncate = cacheTruncate,
        .xDestroy = cacheDestroy,
        .xShrink = cacheShrink,
    };
    return sqlite3_config(SQLITE_CONFIG_PCACHE2, &methods);
}

void heyan_sqlite_page_cache_translate_on_this_thread(int on) {
    ThreadRecord *record = threadRecord(1);
    if (record != NULL) record->untranslated = on == 0;
}

long heyan_sqlite_page_cache_lock_page_keys_on_this_thread(void) {
    ThreadRecord *record = threadRecord(0);
    return record != NULL ? record->lockPageKeys : 0;
}

long heyan_sqlite_page_cache_wide_truncations_on_this_thread(void) {
    ThreadRecord *record = threadRecord(0);
    return record != NULL ? record->wideTruncations : 0;
}
