/*
 * The C floor: an echo server on bare epoll, with no framework and no
 * runtime between it and the kernel.
 *
 *   cc -O2 -o epoll_echo benches/c/epoll_echo.c
 *   ./epoll_echo --listen 127.0.0.1:0      # prints "listening on 127.0.0.1:PORT"
 *
 * The job mio_echo.rs does, in C: one static 64 KiB buffer for every read;
 * accept4(SOCK_NONBLOCK) until EAGAIN; each connection registered once,
 * EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET; read until EAGAIN or a short
 * read (which on Linux proves a stream socket drained, epoll(7)); the echo
 * written at once, and only what the socket refuses kept, in a
 * per-connection heap buffer flushed on the EPOLLOUT edge; TCP_NODELAY.
 * No timers, no limits, no stats. The benchmark runner builds it with the
 * system's `cc -O2` and reports evloop's figures divided by its.
 *
 * It prints `listening on ADDR` on stdout once bound, as the other
 * benchmark servers do, and dies by SIGTERM's default action.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_BYTES (64 * 1024)
#define MAX_EVENTS 1024
/* As mio's TcpListener::bind, so the two floors differ only in language. */
#define BACKLOG 1024

/* Every read lands here; the program is single-threaded. */
static char buf[BUF_BYTES];

/* One client: its socket and the echo bytes it has not taken yet. The
 * listener's epoll data is NULL, which no connection's is. */
struct conn {
    int fd;
    char *unsent;
    size_t unsent_len;
};

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* `IPv4:PORT` or `[IPv6]:PORT`, numeric only: no name lookups. */
static int parse_addr(const char *spec, struct sockaddr_storage *addr, socklen_t *len)
{
    char host[INET6_ADDRSTRLEN + 2];
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || (size_t)(colon - spec) >= sizeof host)
        return -1;
    memcpy(host, spec, colon - spec);
    host[colon - spec] = '\0';
    char *h = host;
    size_t hlen = strlen(h);
    if (hlen >= 2 && h[0] == '[' && h[hlen - 1] == ']') {
        h[hlen - 1] = '\0';
        h++;
    }
    struct addrinfo hints = {0}, *found;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
    if (getaddrinfo(h, colon + 1, &hints, &found) != 0)
        return -1;
    memcpy(addr, found->ai_addr, found->ai_addrlen);
    *len = found->ai_addrlen;
    freeaddrinfo(found);
    return 0;
}

/* Prints where `fd` listens, in the form Rust's SocketAddr parses. */
static void print_bound(int fd)
{
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    char ip[INET6_ADDRSTRLEN];
    if (getsockname(fd, (struct sockaddr *)&addr, &len) < 0)
        die("getsockname");
    if (addr.ss_family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)&addr;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof ip);
        printf("listening on %s:%u\n", ip, ntohs(v4->sin_port));
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&addr;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof ip);
        printf("listening on [%s]:%u\n", ip, ntohs(v6->sin6_port));
    }
    fflush(stdout);
}

static int listen_on(const char *spec)
{
    struct sockaddr_storage addr;
    socklen_t len;
    if (parse_addr(spec, &addr, &len) < 0) {
        fprintf(stderr, "epoll_echo: not an IP:PORT address: %s\n", spec);
        exit(2);
    }
    int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket");
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        die("SO_REUSEADDR");
    if (bind(fd, (struct sockaddr *)&addr, len) < 0)
        die("bind");
    if (listen(fd, BACKLOG) < 0)
        die("listen");
    return fd;
}

/* Accepts until the backlog is empty. */
static void accept_all(int listener, int ep)
{
    for (;;) {
        int fd = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            /* EMFILE and friends: leave the rest in the backlog; the next
             * connect's edge tries again (as mio_echo does). */
            perror("accept4");
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        /* Both directions, once: never an epoll_ctl per message. */
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
        if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            perror("epoll_ctl");
            close(fd);
            free(c);
        }
    }
}

/* Writes as much of `bytes` as the socket takes now: how much it took, or
 * -1 on an error. MSG_NOSIGNAL: a reset peer is an error, not SIGPIPE. */
static ssize_t write_some(int fd, const char *bytes, size_t len)
{
    size_t written = 0;
    while (written < len) {
        ssize_t n = send(fd, bytes + written, len - written, MSG_NOSIGNAL);
        if (n > 0)
            written += (size_t)n;
        else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        else if (n < 0 && errno == EINTR)
            continue;
        else
            return -1;
    }
    return (ssize_t)written;
}

/* Flushes what is owed, then echoes until the socket is drained or full.
 * Returns -1 when the connection is done: the peer closed, or an error. */
static int serve(struct conn *c, int peer_closed)
{
    if (c->unsent_len > 0) {
        ssize_t w = write_some(c->fd, c->unsent, c->unsent_len);
        if (w < 0)
            return -1;
        c->unsent_len -= (size_t)w;
        if (c->unsent_len > 0) {
            /* Still full: reading more would only queue more. The EPOLLOUT
             * edge brings us back, and the unread input waits in the kernel. */
            memmove(c->unsent, c->unsent + w, c->unsent_len);
            return 0;
        }
        free(c->unsent);
        c->unsent = NULL;
    }
    for (;;) {
        ssize_t n = recv(c->fd, buf, BUF_BYTES, 0);
        if (n == 0)
            return -1;
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return 0;
            if (errno == EINTR)
                continue;
            return -1;
        }
        ssize_t w = write_some(c->fd, buf, (size_t)n);
        if (w < 0)
            return -1;
        if (w < n) {
            c->unsent_len = (size_t)(n - w);
            c->unsent = malloc(c->unsent_len);
            if (c->unsent == NULL)
                return -1;
            memcpy(c->unsent, buf + w, c->unsent_len);
            return 0;
        }
        /* A short read proves the socket drained (epoll(7)), except after
         * EPOLLRDHUP: the end of file is still to be read, and no later
         * edge would announce it. */
        if (n < BUF_BYTES && !peer_closed)
            return 0;
    }
}

static void close_conn(struct conn *c)
{
    close(c->fd); /* also leaves the epoll set: the descriptor has no dup */
    free(c->unsent);
    free(c);
}

int main(int argc, char **argv)
{
    const char *spec = "127.0.0.1:0";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            spec = argv[++i];
        } else {
            fprintf(stderr, "usage: %s [--listen IP:PORT]   (default 127.0.0.1:0)\n", argv[0]);
            return 2;
        }
    }
    int listener = listen_on(spec);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        die("epoll_create1");
    struct epoll_event lev = {.events = EPOLLIN | EPOLLET, .data.ptr = NULL};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, listener, &lev) < 0)
        die("epoll_ctl");
    print_bound(listener);

    static struct epoll_event events[MAX_EVENTS];
    for (;;) {
        int n = epoll_wait(ep, events, MAX_EVENTS, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            die("epoll_wait");
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                accept_all(listener, ep);
                continue;
            }
            /* Only this connection's own event can name it, so freeing it
             * leaves no stale pointer in the rest of the batch. */
            uint32_t ev = events[i].events;
            if ((ev & (EPOLLERR | EPOLLHUP)) || serve(c, (ev & EPOLLRDHUP) != 0) < 0)
                close_conn(c);
        }
    }
}
