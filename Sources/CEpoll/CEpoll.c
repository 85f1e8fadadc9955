#define _GNU_SOURCE
#include <sys/socket.h>
#include "CEpoll.h"

int cepoll_wait(int epfd, unsigned int *events, unsigned long long *data, int maxevents, int timeout) {
    struct epoll_event evs[256];
    if (maxevents > 256) maxevents = 256;
    int n = epoll_wait(epfd, evs, maxevents, timeout);
    for (int i = 0; i < n; i++) {
        events[i] = evs[i].events;
        data[i] = evs[i].data.u64;
    }
    return n;
}

int caccept4(int fd, void *addr, unsigned int *addrlen) {
    return accept4(fd, (struct sockaddr *)addr, (socklen_t *)addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
