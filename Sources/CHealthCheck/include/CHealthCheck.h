// What Swift's Glibc module leaves out and HealthCheck's prober threads need: epoll, eventfd and
// naming a thread.
#ifndef CHEALTHCHECK_H
#define CHEALTHCHECK_H

#if defined(__linux__)
#include <sys/epoll.h>
#include <sys/eventfd.h>
#endif

/// Names the calling thread (at most 15 bytes show, as in `top -H` and /proc/PID/task/*/comm).
void chealthcheck_set_thread_name(const char *name);

#endif
