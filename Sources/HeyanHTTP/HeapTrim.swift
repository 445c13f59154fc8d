import CLinux

/// Gives memory that glibc keeps in its arenas after `free` back to the kernel.
///
/// Every TLS handshake allocates and frees tens of kilobytes; glibc keeps those pages, so a server
/// that accepted 1,000 connections carries ~30 MB of freed memory in its RSS. The maintenance
/// schedule calls this every few seconds (docs/performance.md: 88 MB → 60 MB with 1,000 idle
/// connections).
public func returnFreedHeapMemory() {
    _ = heyan_malloc_trim()
}
