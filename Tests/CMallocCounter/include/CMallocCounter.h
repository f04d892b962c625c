#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H
#include <stdint.h>

/// Heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by the
/// calling thread since it started. The test executable's malloc family is interposed by
/// CMallocCounter.c and forwards to glibc's; only the counting is added.
uint64_t gd_thread_allocations(void);

/// Bytes the calling thread allocated minus the bytes it freed (usable sizes), counted by the same
/// interposition: what a structure built and kept on one thread costs is the difference around
/// building it, whatever other threads allocate meanwhile.
int64_t gd_thread_live_heap_bytes(void);

#endif
