#ifndef CMALLOCCOUNTER_H
#define CMALLOCCOUNTER_H
#include <stdint.h>

/// Heap allocations (malloc, calloc, realloc, posix_memalign, aligned_alloc, memalign) made by the
/// calling thread since it started. The test executable's malloc family is interposed by
/// CMallocCounter.c and forwards to glibc's; only the counting is added.
uint64_t gd_thread_allocations(void);

#endif
