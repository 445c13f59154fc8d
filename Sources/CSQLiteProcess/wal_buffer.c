// A VFS shim that gathers SQLite's WAL appends into one write per sync (include/wal_buffer.h).
#include "wal_buffer.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

/// Gathered bytes at most; a larger transaction is written in pieces of this size. The unix VFS
/// writes at most 0x1ffff bytes per call (`seekAndWriteFd` masks the length to 17 bits, and reports a
/// disk full when the rest comes to nothing), so one piece is 128 KiB less a byte: a data-sharing
/// commit of ~35 frames (~144 KB) is two writes.
#define WAL_BUFFER_CAPACITY 0x1ffff
/// The size of a WAL frame's header (sqlite.org/fileformat2.html, "WAL File Format").
#define WAL_FRAME_HEADER 24

typedef struct BufferedFile {
    sqlite3_file base;     // pMethods: &bufferedMethods
    sqlite3_file *real;    // the system VFS's file, in the same allocation, after this struct
    int isWAL;
    int commitFrame;       // the last frame header gathered marks a commit
    int length;            // bytes gathered
    sqlite3_int64 start;   // the file offset of buffer[0]
    unsigned char *buffer; // WAL_BUFFER_CAPACITY bytes once the first append comes
} BufferedFile;

static sqlite3_vfs *systemVFS;
static sqlite3_vfs bufferedVFS;
static sqlite3_io_methods bufferedMethods;

static sqlite3_file *real(sqlite3_file *file) { return ((BufferedFile *)file)->real; }

/// Writes what is gathered, at its offset. Forgets it either way: after a failed write SQLite
/// treats the transaction as failed and starts again from its own state.
static int flush(sqlite3_file *file) {
    BufferedFile *f = (BufferedFile *)file;
    if (f->length == 0) return SQLITE_OK;
    int length = f->length;
    f->length = 0;
    return f->real->pMethods->xWrite(f->real, f->buffer, length, f->start);
}

static int bufferedClose(sqlite3_file *file) {
    BufferedFile *f = (BufferedFile *)file;
    int flushed = flush(file);
    int closed = f->real->pMethods->xClose(f->real);
    sqlite3_free(f->buffer);
    f->buffer = NULL;
    return flushed != SQLITE_OK ? flushed : closed;
}

static int bufferedRead(sqlite3_file *file, void *out, int amount, sqlite3_int64 offset) {
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    return real(file)->pMethods->xRead(real(file), out, amount, offset);
}

static int bufferedWrite(sqlite3_file *file, const void *data, int amount, sqlite3_int64 offset) {
    BufferedFile *f = (BufferedFile *)file;
    if (!f->isWAL) return f->real->pMethods->xWrite(f->real, data, amount, offset);
    // Only a write that continues the gathered bytes joins them; anything else (a frame rewritten
    // in place, the header of a new WAL cycle) writes them first, so the file sees every write in
    // the order SQLite made it.
    if (f->length > 0 && (offset != f->start + f->length || f->length + amount > WAL_BUFFER_CAPACITY)) {
        int rc = flush(file);
        if (rc != SQLITE_OK) return rc;
    }
    if (amount > WAL_BUFFER_CAPACITY) return f->real->pMethods->xWrite(f->real, data, amount, offset);
    if (f->buffer == NULL) {
        f->buffer = sqlite3_malloc(WAL_BUFFER_CAPACITY);
        if (f->buffer == NULL) return f->real->pMethods->xWrite(f->real, data, amount, offset);
    }
    if (f->length == 0) f->start = offset;
    memcpy(f->buffer + f->length, data, (size_t)amount);
    f->length += amount;
    // SQLite writes a frame as its 24-byte header, then its page. A header whose second field (the
    // database size after the commit, big-endian) is not 0 starts a transaction's last frame: once
    // its page is here, the transaction is written out before SQLite publishes it in the WAL index,
    // whatever the connection's `synchronous` (with FULL the sync would write it a moment later).
    if (amount == WAL_FRAME_HEADER) {
        const unsigned char *header = data;
        f->commitFrame = (header[4] | header[5] | header[6] | header[7]) != 0;
        return SQLITE_OK;
    }
    if (f->commitFrame) {
        f->commitFrame = 0;
        return flush(file);
    }
    return SQLITE_OK;
}

static int bufferedTruncate(sqlite3_file *file, sqlite3_int64 size) {
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    return real(file)->pMethods->xTruncate(real(file), size);
}

static int bufferedSync(sqlite3_file *file, int flags) {
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    return real(file)->pMethods->xSync(real(file), flags);
}

static int bufferedFileSize(sqlite3_file *file, sqlite3_int64 *size) {
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    return real(file)->pMethods->xFileSize(real(file), size);
}

static int bufferedLock(sqlite3_file *file, int lock) { return real(file)->pMethods->xLock(real(file), lock); }
static int bufferedUnlock(sqlite3_file *file, int lock) { return real(file)->pMethods->xUnlock(real(file), lock); }
static int bufferedCheckReservedLock(sqlite3_file *file, int *out) {
    return real(file)->pMethods->xCheckReservedLock(real(file), out);
}

static int bufferedFileControl(sqlite3_file *file, int op, void *argument) {
    // Size hints, persistence and the like may look at the file's size or contents.
    int rc = flush(file);
    if (rc != SQLITE_OK) return rc;
    return real(file)->pMethods->xFileControl(real(file), op, argument);
}

static int bufferedSectorSize(sqlite3_file *file) { return real(file)->pMethods->xSectorSize(real(file)); }
static int bufferedDeviceCharacteristics(sqlite3_file *file) {
    return real(file)->pMethods->xDeviceCharacteristics(real(file));
}

// Shared memory and memory maps exist from I/O version 2 and 3; a file of an older version (none of
// the system VFS's) answers as SQLite would without them.
static int bufferedShmMap(sqlite3_file *file, int region, int size, int extend, void volatile **out) {
    if (real(file)->pMethods->iVersion < 2) return SQLITE_IOERR_SHMMAP;
    return real(file)->pMethods->xShmMap(real(file), region, size, extend, out);
}
static int bufferedShmLock(sqlite3_file *file, int offset, int n, int flags) {
    if (real(file)->pMethods->iVersion < 2) return SQLITE_IOERR_SHMLOCK;
    return real(file)->pMethods->xShmLock(real(file), offset, n, flags);
}
static void bufferedShmBarrier(sqlite3_file *file) {
    if (real(file)->pMethods->iVersion >= 2) real(file)->pMethods->xShmBarrier(real(file));
}
static int bufferedShmUnmap(sqlite3_file *file, int deleteFlag) {
    if (real(file)->pMethods->iVersion < 2) return SQLITE_OK;
    return real(file)->pMethods->xShmUnmap(real(file), deleteFlag);
}
static int bufferedFetch(sqlite3_file *file, sqlite3_int64 offset, int amount, void **out) {
    *out = NULL;
    int rc = flush(file);
    if (rc != SQLITE_OK || real(file)->pMethods->iVersion < 3) return rc;
    return real(file)->pMethods->xFetch(real(file), offset, amount, out);
}
static int bufferedUnfetch(sqlite3_file *file, sqlite3_int64 offset, void *pointer) {
    if (real(file)->pMethods->iVersion < 3) return SQLITE_OK;
    return real(file)->pMethods->xUnfetch(real(file), offset, pointer);
}

static int bufferedOpen(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *outFlags) {
    (void)vfs;
    BufferedFile *f = (BufferedFile *)file;
    memset(f, 0, sizeof(*f));
    f->real = (sqlite3_file *)(f + 1);
    int rc = systemVFS->xOpen(systemVFS, name, f->real, flags, outFlags);
    // SQLite calls xClose only on a file whose pMethods is set; the system VFS leaves it NULL
    // when it opened nothing.
    if (f->real->pMethods == NULL) return rc;
    f->isWAL = (flags & SQLITE_OPEN_WAL) != 0;
    f->base.pMethods = &bufferedMethods;
    return rc;
}

static int vfsDelete(sqlite3_vfs *vfs, const char *name, int syncDir) {
    (void)vfs;
    return systemVFS->xDelete(systemVFS, name, syncDir);
}
static int vfsAccess(sqlite3_vfs *vfs, const char *name, int flags, int *out) {
    (void)vfs;
    return systemVFS->xAccess(systemVFS, name, flags, out);
}
static int vfsFullPathname(sqlite3_vfs *vfs, const char *name, int size, char *out) {
    (void)vfs;
    return systemVFS->xFullPathname(systemVFS, name, size, out);
}
static void *vfsDlOpen(sqlite3_vfs *vfs, const char *name) {
    (void)vfs;
    return systemVFS->xDlOpen(systemVFS, name);
}
static void vfsDlError(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    systemVFS->xDlError(systemVFS, size, out);
}
static void (*vfsDlSym(sqlite3_vfs *vfs, void *handle, const char *symbol))(void) {
    (void)vfs;
    return systemVFS->xDlSym(systemVFS, handle, symbol);
}
static void vfsDlClose(sqlite3_vfs *vfs, void *handle) {
    (void)vfs;
    systemVFS->xDlClose(systemVFS, handle);
}
static int vfsRandomness(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return systemVFS->xRandomness(systemVFS, size, out);
}
static int vfsSleep(sqlite3_vfs *vfs, int microseconds) {
    (void)vfs;
    return systemVFS->xSleep(systemVFS, microseconds);
}
static int vfsCurrentTime(sqlite3_vfs *vfs, double *out) {
    (void)vfs;
    return systemVFS->xCurrentTime(systemVFS, out);
}
static int vfsGetLastError(sqlite3_vfs *vfs, int size, char *out) {
    (void)vfs;
    return systemVFS->xGetLastError(systemVFS, size, out);
}
static int vfsCurrentTimeInt64(sqlite3_vfs *vfs, sqlite3_int64 *out) {
    (void)vfs;
    return systemVFS->xCurrentTimeInt64(systemVFS, out);
}

static const char vfsName[] = "heyan-wal-buffer";

const char *heyan_sqlite_wal_buffer_vfs_name(void) { return vfsName; }

int heyan_sqlite_register_wal_buffer(void) {
    if (systemVFS != NULL) return SQLITE_OK;
    sqlite3_vfs *system = sqlite3_vfs_find(NULL);
    if (system == NULL) return SQLITE_ERROR;
    // The shim forwards the methods of I/O version 3 (shared memory, memory maps) and of VFS
    // version 2; a system VFS with less is not the one this was written for.
    if (system->iVersion < 2) return SQLITE_ERROR;
    systemVFS = system;

    bufferedMethods = (sqlite3_io_methods){
        .iVersion = 3,
        .xClose = bufferedClose,
        .xRead = bufferedRead,
        .xWrite = bufferedWrite,
        .xTruncate = bufferedTruncate,
        .xSync = bufferedSync,
        .xFileSize = bufferedFileSize,
        .xLock = bufferedLock,
        .xUnlock = bufferedUnlock,
        .xCheckReservedLock = bufferedCheckReservedLock,
        .xFileControl = bufferedFileControl,
        .xSectorSize = bufferedSectorSize,
        .xDeviceCharacteristics = bufferedDeviceCharacteristics,
        .xShmMap = bufferedShmMap,
        .xShmLock = bufferedShmLock,
        .xShmBarrier = bufferedShmBarrier,
        .xShmUnmap = bufferedShmUnmap,
        .xFetch = bufferedFetch,
        .xUnfetch = bufferedUnfetch,
    };
    bufferedVFS = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(BufferedFile) + system->szOsFile,
        .mxPathname = system->mxPathname,
        .zName = vfsName,
        .xOpen = bufferedOpen,
        .xDelete = vfsDelete,
        .xAccess = vfsAccess,
        .xFullPathname = vfsFullPathname,
        .xDlOpen = vfsDlOpen,
        .xDlError = vfsDlError,
        .xDlSym = vfsDlSym,
        .xDlClose = vfsDlClose,
        .xRandomness = vfsRandomness,
        .xSleep = vfsSleep,
        .xCurrentTime = vfsCurrentTime,
        .xGetLastError = vfsGetLastError,
        .xCurrentTimeInt64 = vfsCurrentTimeInt64,
    };
    return sqlite3_vfs_register(&bufferedVFS, 1);
}
