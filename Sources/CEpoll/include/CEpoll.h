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
// accept4 needs _GNU_SOURCE, which the Glibc module is built without; the
// accepted socket is non-blocking and close-on-exec from the start.
int caccept4(int fd, void *addr, unsigned int *addrlen);

// The epoll constants are enum values re-#defined as macros, which Swift does
// not import reliably; these expose them with a plain type.
static inline unsigned int cepoll_in(void) { return EPOLLIN; }
static inline unsigned int cepoll_out(void) { return EPOLLOUT; }
static inline unsigned int cepoll_err(void) { return EPOLLERR; }
static inline unsigned int cepoll_hup(void) { return EPOLLHUP; }
static inline unsigned int cepoll_rdhup(void) { return EPOLLRDHUP; }
static inline unsigned int cepoll_et(void) { return EPOLLET; }
static inline unsigned int cepoll_oneshot(void) { return EPOLLONESHOT; }
static inline int cepoll_ctl_add(void) { return EPOLL_CTL_ADD; }
static inline int cepoll_ctl_mod(void) { return EPOLL_CTL_MOD; }
static inline int cepoll_ctl_del(void) { return EPOLL_CTL_DEL; }

#endif
