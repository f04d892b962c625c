// Counts heap allocations per thread, for tests that prove a code path allocates nothing.
//
// Definitions in the executable take precedence over glibc's for every caller (the usual malloc
// interposition); each forwards to glibc's own implementation (__libc_*), so behaviour is
// unchanged. The counter is initial-exec TLS in the executable: reading or bumping it never
// allocates, so there is no recursion.
#include <errno.h>
#include <malloc.h>
#include <stddef.h>
#include <stdint.h>
#include "CMallocCounter.h"

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);
extern void __libc_free(void *pointer);

static __thread uint64_t allocations __attribute__((tls_model("initial-exec")));
// Bytes this thread allocated minus bytes it freed (usable sizes), for memory-per-object tests:
// what a structure built and kept on one thread costs, whatever other threads do meanwhile.
static __thread int64_t live_bytes __attribute__((tls_model("initial-exec")));

uint64_t gd_thread_allocations(void) { return allocations; }
int64_t gd_thread_live_heap_bytes(void) { return live_bytes; }

static void *counted(void *p) {
    if (p != NULL) live_bytes += (int64_t)malloc_usable_size(p);
    return p;
}

void *malloc(size_t size) {
    allocations++;
    return counted(__libc_malloc(size));
}

void *calloc(size_t count, size_t size) {
    allocations++;
    return counted(__libc_calloc(count, size));
}

void *realloc(void *pointer, size_t size) {
    allocations++;
    size_t old = pointer != NULL ? malloc_usable_size(pointer) : 0;
    void *p = __libc_realloc(pointer, size);
    if (p == NULL && size != 0) return NULL;  // the old block is still there
    live_bytes -= (int64_t)old;
    return counted(p);
}

void free(void *pointer) {
    if (pointer != NULL) live_bytes -= (int64_t)malloc_usable_size(pointer);
    __libc_free(pointer);
}

void *memalign(size_t alignment, size_t size) {
    allocations++;
    return counted(__libc_memalign(alignment, size));
}

void *aligned_alloc(size_t alignment, size_t size) {
    allocations++;
    return counted(__libc_memalign(alignment, size));
}

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (alignment < sizeof(void *) || (alignment & (alignment - 1)) != 0) return EINVAL;
    allocations++;
    void *p = counted(__libc_memalign(alignment, size));
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}
