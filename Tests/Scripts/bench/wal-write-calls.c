// The cost of SQLite's WAL write pattern on this machine's disk, without SQLite (docs/storage.md,
// "WAL writes"): per commit, 35 frames written as SQLite's unix VFS writes them — each frame's 24-byte
// header, then its 4 KiB page, 70 pwrite(2) calls — or gathered into one call as CSQLiteProcess
// hands them on; then fdatasync. Prints the process's CPU and the wall time per commit.
//
//   Tests/Scripts/bench/wal-write-calls.sh [COMMITS]
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { FRAMES = 35, HEADER = 24, PAGE = 4096 };

static double seconds(clockid_t clock) {
    struct timespec t;
    clock_gettime(clock, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s separate|gathered COMMITS FILE\n", argv[0]);
        return 2;
    }
    int gathered = strcmp(argv[1], "gathered") == 0;
    int commits = atoi(argv[2]);
    int fd = open(argv[3], O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) { perror(argv[3]); return 1; }
    static unsigned char header[HEADER], page[PAGE], frames[FRAMES * (HEADER + PAGE)];
    memset(header, 1, sizeof header);
    memset(page, 2, sizeof page);
    off_t offset = 0;
    double cpu = seconds(CLOCK_PROCESS_CPUTIME_ID), wall = seconds(CLOCK_MONOTONIC);
    for (int commit = 0; commit < commits; commit++) {
        if (offset > 64 * 1024 * 1024) offset = 0;  // a WAL that restarts, like heyan's at its size limit
        if (gathered) {
            for (int f = 0; f < FRAMES; f++) {
                memcpy(frames + f * (HEADER + PAGE), header, HEADER);
                memcpy(frames + f * (HEADER + PAGE) + HEADER, page, PAGE);
            }
            if (pwrite(fd, frames, sizeof frames, offset) != (ssize_t)sizeof frames) { perror("pwrite"); return 1; }
            offset += (off_t)sizeof frames;
        } else {
            for (int f = 0; f < FRAMES; f++) {
                if (pwrite(fd, header, HEADER, offset) != HEADER) { perror("pwrite"); return 1; }
                offset += HEADER;
                if (pwrite(fd, page, PAGE, offset) != PAGE) { perror("pwrite"); return 1; }
                offset += PAGE;
            }
        }
        if (fdatasync(fd) != 0) { perror("fdatasync"); return 1; }
    }
    cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;
    wall = seconds(CLOCK_MONOTONIC) - wall;
    printf("%-9s %d commits of %d frames: %.1f us of CPU, %.1f us wall per commit\n", argv[1], commits, FRAMES,
           cpu * 1e6 / commits, wall * 1e6 / commits);
    close(fd);
    unlink(argv[3]);
    return 0;
}
