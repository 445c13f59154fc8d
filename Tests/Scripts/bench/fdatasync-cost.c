/* The CPU one commit's WAL write and fdatasync cost on this disk, outside heyan: PAGES frames of 4,120
 * bytes written with one pwrite into a preallocated 64 MiB file (as heyan's WAL is written, one call per
 * commit, overwriting the file from its start once full), then fdatasync; COUNT times, back to back or
 * with SLEEP_US microseconds between commits (heyan's writer sleeps and wakes between batches). Prints
 * CPU (utime + stime) and wall time per commit. docs/performance.md, "Issue 16, ninth session".
 *
 *   Tests/Scripts/bench/fdatasync-cost.sh      (compiles this and runs the cases quoted there)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double cpu_seconds(void) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

static double wall_seconds(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: %s FILE PAGES COUNT [SLEEP_US]\n", argv[0]);
        return 2;
    }
    const char *path = argv[1];
    int pages = atoi(argv[2]), count = atoi(argv[3]), sleep_us = argc > 4 ? atoi(argv[4]) : 0;
    const size_t file_size = 64u << 20, frame = 4120;
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    if (fd < 0) { perror(path); return 1; }
    size_t size = (size_t)pages * frame;
    char *data = malloc(size), *zeros = calloc(1, 1u << 20);
    if (!data || !zeros || size > file_size) { fprintf(stderr, "bad size\n"); return 1; }
    memset(data, 1, size);
    for (size_t at = 0; at < file_size; at += 1u << 20)
        if (pwrite(fd, zeros, 1u << 20, (off_t)at) != 1 << 20) { perror("pwrite"); return 1; }
    if (fsync(fd) != 0) { perror("fsync"); return 1; }
    off_t offset = 0;
    double cpu0 = cpu_seconds(), wall0 = wall_seconds();
    for (int i = 0; i < count; i++) {
        if (offset + (off_t)size > (off_t)file_size) offset = 0;
        if (pwrite(fd, data, size, offset) != (ssize_t)size) { perror("pwrite"); return 1; }
        offset += (off_t)size;
        if (fdatasync(fd) != 0) { perror("fdatasync"); return 1; }
        if (sleep_us) usleep((useconds_t)sleep_us);
    }
    double cpu = cpu_seconds() - cpu0, wall = wall_seconds() - wall0;
    printf("%3d pages per commit, %4d µs between: %6.1f µs CPU per write + fdatasync, %7.1f µs wall\n",
           pages, sleep_us, cpu / count * 1e6, wall / count * 1e6);
    close(fd);
    unlink(path);
    return 0;
}
