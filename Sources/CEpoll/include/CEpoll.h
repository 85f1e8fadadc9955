#ifndef CEPOLL_H
#define CEPOLL_H
// Swift's Glibc module does not export epoll or eventfd; this shim does.
#include <sys/epoll.h>
#include <sys/eventfd.h>

static inline int cepoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }
static inline int cepoll_ctl(int epfd, int op, int fd, unsigned int events, unsigned long long data) {
    struct epoll_event ev;
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}
int cepoll_wait(int epfd, unsigned int *events, unsigned long long *data, int maxevents, int timeout);
static inline int ceventfd_create(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

#endif
