/*
 * tcp-sink: many loopback TCP listeners that accept every connection and close it at once, so
 * GlobalDNS's health checker has thousands of live targets to probe (Benchmarks/health-scale.sh).
 *
 *   tcp-sink FIRST_ADDRESS ADDRESS_COUNT FIRST_PORT PORT_COUNT
 *   e.g. tcp-sink 127.2.0.1 100 20000 100   -> 10,000 listeners, 127.2.0.1..127.2.0.100 x 20000..20099
 *
 * Only 127.0.0.0/8 addresses are accepted. One epoll loop, non-blocking accept4 + close. Prints
 * "ready N" on stdout once every socket listens; runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s FIRST_ADDRESS ADDRESS_COUNT FIRST_PORT PORT_COUNT\n", argv[0]);
        return 2;
    }
    struct in_addr first;
    if (inet_pton(AF_INET, argv[1], &first) != 1 || (ntohl(first.s_addr) >> 24) != 127) {
        fprintf(stderr, "tcp-sink: %s is not a 127.0.0.0/8 address\n", argv[1]);
        return 2;
    }
    long addresses = atol(argv[2]), firstPort = atol(argv[3]), ports = atol(argv[4]);
    if (addresses < 1 || ports < 1 || firstPort < 1 || firstPort + ports > 65536 ||
        ((ntohl(first.s_addr) + addresses - 1) >> 24) != 127) {
        fprintf(stderr, "tcp-sink: bad counts\n");
        return 2;
    }
    struct rlimit lim = {.rlim_cur = 1 << 20, .rlim_max = 1 << 20};
    if (setrlimit(RLIMIT_NOFILE, &lim) != 0) {
        getrlimit(RLIMIT_NOFILE, &lim);
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    int ep = epoll_create1(0);
    if (ep < 0) { perror("epoll_create1"); return 1; }
    long n = 0;
    for (long a = 0; a < addresses; a++) {
        for (long p = 0; p < ports; p++) {
            int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (s < 0) { perror("socket"); return 1; }
            int one = 1;
            setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
            struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)(firstPort + p))};
            sin.sin_addr.s_addr = htonl(ntohl(first.s_addr) + (uint32_t)a);
            if (bind(s, (struct sockaddr *)&sin, sizeof sin) != 0 || listen(s, 1024) != 0) {
                char text[INET_ADDRSTRLEN];
                inet_ntop(AF_INET, &sin.sin_addr, text, sizeof text);
                fprintf(stderr, "tcp-sink: %s:%ld: %s\n", text, firstPort + p, strerror(errno));
                return 1;
            }
            struct epoll_event ev = {.events = EPOLLIN, .data.fd = s};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, s, &ev) != 0) { perror("epoll_ctl"); return 1; }
            n++;
        }
    }
    printf("ready %ld\n", n);
    fflush(stdout);
    struct epoll_event events[256];
    for (;;) {
        int k = epoll_wait(ep, events, 256, -1);
        if (k < 0) {
            if (errno == EINTR) continue;
            perror("epoll_wait");
            return 1;
        }
        for (int i = 0; i < k; i++) {
            for (;;) {
                int c = accept4(events[i].data.fd, NULL, NULL, SOCK_NONBLOCK);
                if (c < 0) break;
                close(c);
            }
        }
    }
}
