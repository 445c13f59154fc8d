#ifndef HEYAN_CLINUX_SHIM_H
#define HEYAN_CLINUX_SHIM_H
// Linux interfaces Swift's Glibc module does not expose: epoll, eventfd, accept4 (a GNU
// extension), and thread names. Only declarations and static inline wrappers.
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>

// accept4 is declared by <sys/socket.h> only under _GNU_SOURCE, which Swift's Glibc module is
// built without; the symbol is in every glibc since 2.10.
extern int accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags);

#include <fcntl.h>
#include <unistd.h>
extern int pipe2(int fds[2], int flags);
/// A pipe whose ends close on exec (pipe2 is a GNU extension too).
static inline int heyan_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

static inline int heyan_accept4(int fd, struct sockaddr *addr, socklen_t *addrlen, int flags) {
    return accept4(fd, addr, addrlen, flags);
}

/// Names the calling thread (visible in top -H, perf and gdb); prctl is variadic.
static inline int heyan_set_thread_name(const char *name) { return prctl(PR_SET_NAME, name, 0, 0, 0); }

static inline uint32_t heyan_EPOLLEXCLUSIVE(void) { return EPOLLEXCLUSIVE; }
#include <malloc.h>
/// Returns freed heap memory to the kernel (glibc keeps it in its arenas otherwise).
static inline int heyan_malloc_trim(void) { return malloc_trim(0); }
#endif
