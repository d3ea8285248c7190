/*
 * tcp_testutil.h — plain-socket helpers for the I/O tests (test_tcp,
 * test_on_base, test_tcp_hostile): loopback only, every wait bounded.
 *
 * - tcpu_connect: a blocking client socket to "host:port" / "[v6]:port".
 * - tcpu_reader: a buffered line / byte reader with a deadline per call.
 * - tcpu_fd_count: open descriptors of the process (/proc/self/fd).
 * - tcpu_peer_fd: the server-side descriptor of a loopback connection made
 *   in this very process (the library's accepted socket), found by address.
 * - tcpu_wait_consumed: the peer's kernel acknowledged every byte sent and
 *   the server side read them all out of its socket: the next bytes sent
 *   reach the library in another read (a split that is certain, not hoped).
 */
#ifndef ACTOR_TCP_TESTUTIL_H
#define ACTOR_TCP_TESTUTIL_H

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static inline int64_t tcpu_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "1.2.3.4:port" or "[::1]:port" into a sockaddr; 0 on success. */
static inline int tcpu_parse(const char *hp, struct sockaddr_storage *ss, socklen_t *len)
{
    char host[64];
    const char *colon = strrchr(hp, ':');
    if (colon == NULL)
        return -1;
    size_t hl = (size_t)(colon - hp);
    int port = atoi(colon + 1);
    memset(ss, 0, sizeof *ss);
    if (hp[0] == '[') {
        if (hl < 2 || hl - 2 >= sizeof host)
            return -1;
        memcpy(host, hp + 1, hl - 2);
        host[hl - 2] = '\0';
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons((uint16_t)port);
        if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
            return -1;
        *len = sizeof *s6;
    } else {
        if (hl >= sizeof host)
            return -1;
        memcpy(host, hp, hl);
        host[hl] = '\0';
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
        s4->sin_family = AF_INET;
        s4->sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
            return -1;
        *len = sizeof *s4;
    }
    return 0;
}

/* A blocking connected socket (TCP_NODELAY), or -1 with errno. */
static inline int tcpu_connect(const char *hostport)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (tcpu_parse(hostport, &ss, &len) != 0) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* Whether ::1 can be bound here (IPv6 may be off in a container). */
static inline bool tcpu_v6_available(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in6 s6;
    memset(&s6, 0, sizeof s6);
    s6.sin6_family = AF_INET6;
    s6.sin6_addr = in6addr_loopback;
    bool ok = bind(fd, (struct sockaddr *)&s6, sizeof s6) == 0;
    close(fd);
    return ok;
}

/* Sends everything (blocking socket); 0, or -1 on an error (EPIPE, ...). */
static inline int tcpu_send_all(int fd, const void *buf, size_t len)
{
    const char *p = (const char *)buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static inline int tcpu_send_str(int fd, const char *s) { return tcpu_send_all(fd, s, strlen(s)); }

/* Closes with an RST (SO_LINGER 0). */
static inline void tcpu_rst_close(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

static inline void tcpu_nonblock(int fd)
{
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* ---- a buffered reader ---- */

typedef struct tcpu_reader {
    int fd;
    size_t have;
    int eof;  /* 1: EOF seen; -1: an error (errno in err) */
    int err;
    char buf[1 << 16];
} tcpu_reader;

static inline void tcpu_reader_init(tcpu_reader *r, int fd)
{
    r->fd = fd;
    r->have = 0;
    r->eof = 0;
    r->err = 0;
}

/* Reads more into the buffer, waiting until `deadline_ms`; 1 if bytes came,
 * 0 at EOF or an error (r->eof says which), -2 on timeout. */
static inline int tcpu_fill(tcpu_reader *r, int64_t deadline_ms)
{
    if (r->eof)
        return 0;
    if (r->have == sizeof r->buf)
        return 1;
    for (;;) {
        int64_t left = deadline_ms - tcpu_now_ms();
        if (left < 0)
            return -2;
        struct pollfd p = {r->fd, POLLIN, 0};
        int pr = poll(&p, 1, left > 1000 ? 1000 : (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr <= 0)
            continue;
        ssize_t n = recv(r->fd, r->buf + r->have, sizeof r->buf - r->have, MSG_DONTWAIT);
        if (n > 0) {
            r->have += (size_t)n;
            return 1;
        }
        if (n == 0) {
            r->eof = 1;
            return 0;
        }
        if (errno == EAGAIN || errno == EINTR)
            continue;
        r->eof = -1;
        r->err = errno;
        return 0;
    }
}

/* One line without its "\n" into out (NUL-terminated, cut to cap - 1):
 * its length, -1 at EOF/error before a full line, -2 on timeout. */
static inline long tcpu_read_line(tcpu_reader *r, char *out, size_t cap, int timeout_ms)
{
    int64_t deadline = tcpu_now_ms() + timeout_ms;
    for (;;) {
        char *nl = (char *)memchr(r->buf, '\n', r->have);
        if (nl != NULL) {
            size_t n = (size_t)(nl - r->buf);
            size_t c = n < cap - 1 ? n : cap - 1;
            memcpy(out, r->buf, c);
            out[c] = '\0';
            memmove(r->buf, nl + 1, r->have - n - 1);
            r->have -= n + 1;
            return (long)n;
        }
        int f = tcpu_fill(r, deadline);
        if (f == 0)
            return -1;
        if (f == -2)
            return -2;
    }
}

/* Exactly n bytes into out: 0, -1 at EOF/error first, -2 on timeout. */
static inline int tcpu_read_exact(tcpu_reader *r, void *out, size_t n, int timeout_ms)
{
    int64_t deadline = tcpu_now_ms() + timeout_ms;
    char *o = (char *)out;
    while (n > 0) {
        if (r->have == 0) {
            int f = tcpu_fill(r, deadline);
            if (f == 0)
                return -1;
            if (f == -2)
                return -2;
        }
        size_t c = r->have < n ? r->have : n;
        memcpy(o, r->buf, c);
        memmove(r->buf, r->buf + c, r->have - c);
        r->have -= c;
        o += c;
        n -= c;
    }
    return 0;
}

/* Waits for the end of the stream with nothing more in it: 1 EOF, -1 an
 * error (ECONNRESET...), -3 bytes came instead, -2 timeout. */
static inline int tcpu_expect_end(tcpu_reader *r, int timeout_ms)
{
    if (r->have > 0)
        return -3;
    int f = tcpu_fill(r, tcpu_now_ms() + timeout_ms);
    if (f == 1)
        return -3;
    if (f == -2)
        return -2;
    return r->eof == 1 ? 1 : -1;
}

/* ---- descriptors ---- */

/* Open descriptors that are not files: sockets, pipes, epoll and event
 * descriptors (a sanitizer's runtime may hold a file of /proc open for a
 * moment: those are not counted). */
static inline int tcpu_fd_count(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dirfd(d))
            continue;
        char path[300], link[256];
        snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
        ssize_t l = readlink(path, link, sizeof link - 1);
        if (l <= 0 || link[0] == '/')
            continue;
        n++;
    }
    closedir(d);
    return n;
}

static inline bool tcpu_same_addr(const struct sockaddr_storage *a, socklen_t al,
                                  const struct sockaddr_storage *b, socklen_t bl)
{
    return al == bl && memcmp(a, b, al) == 0;
}

/* The descriptor of this process whose local address is client's peer and
 * whose peer is client's local address; -1 if none (not accepted yet). */
static inline int tcpu_peer_fd(int client)
{
    struct sockaddr_storage cl, cp;
    socklen_t cll = sizeof cl, cpl = sizeof cp;
    if (getsockname(client, (struct sockaddr *)&cl, &cll) != 0 ||
        getpeername(client, (struct sockaddr *)&cp, &cpl) != 0)
        return -1;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int found = -1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL && found < 0) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name);
        if (fd == client)
            continue;
        struct sockaddr_storage l, p;
        socklen_t ll = sizeof l, pl = sizeof p;
        memset(&l, 0, sizeof l);
        memset(&p, 0, sizeof p);
        if (getsockname(fd, (struct sockaddr *)&l, &ll) != 0 ||
            getpeername(fd, (struct sockaddr *)&p, &pl) != 0)
            continue;
        if (tcpu_same_addr(&l, ll, &cp, cpl) && tcpu_same_addr(&p, pl, &cl, cll))
            found = fd;
    }
    closedir(d);
    return found;
}

/* True once the peer acknowledged all that client sent and the server
 * side (server_fd) has nothing left to read in its socket. */
static inline bool tcpu_consumed(int client, int server_fd)
{
    int outq = -1, inq = -1;
    if (ioctl(client, SIOCOUTQ, &outq) != 0 || ioctl(server_fd, FIONREAD, &inq) != 0)
        return false;
    return outq == 0 && inq == 0;
}

#endif /* ACTOR_TCP_TESTUTIL_H */
