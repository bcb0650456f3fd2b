#define _GNU_SOURCE
/* bench/churn's load in C: Python cannot make or accept 10,000 connections a second
 * on two cores. Only loopback; every loop is bounded in count and time.
 *
 *   churn_load server PORT                          accept, read until EOF, close; prints "ready"
 *   churn_load client RATE SECONDS PORT WORKERS I   RATE/WORKERS connections a second for SECONDS,
 *                                                   each sends 64 bytes and closes; prints how many
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void raise_fd_limit(void) {
    struct rlimit limit;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }
}

static struct sockaddr_in loopback(int port) {
    struct sockaddr_in address;
    memset(&address, 0, sizeof address);
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return address;
}

static int server(int port) {
    int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in address = loopback(port);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 65535) != 0) {
        perror("bind/listen");
        return 1;
    }
    int poller = epoll_create1(0);
    struct epoll_event event = {.events = EPOLLIN, .data.fd = listener};
    epoll_ctl(poller, EPOLL_CTL_ADD, listener, &event);
    printf("ready\n");
    fflush(stdout);
    struct epoll_event events[256];
    char buffer[4096];
    for (;;) {  /* until killed by bench/churn */
        int ready = epoll_wait(poller, events, 256, 1000);
        for (int i = 0; i < ready; i++) {
            int fd = events[i].data.fd;
            if (fd == listener) {
                for (int accepted = 0; accepted < 1024; accepted++) {
                    int connection = accept4(listener, NULL, NULL, SOCK_NONBLOCK);
                    if (connection < 0) break;
                    struct epoll_event in = {.events = EPOLLIN | EPOLLRDHUP, .data.fd = connection};
                    epoll_ctl(poller, EPOLL_CTL_ADD, connection, &in);
                }
            } else {
                ssize_t n = read(fd, buffer, sizeof buffer);
                if (n == 0 || (n < 0 && errno != EAGAIN)) close(fd);  /* EOF or reset: done */
            }
        }
    }
}

static int client(int rate, int seconds, int port, int workers) {
    double share = (double)rate / workers, start = now(), deadline = start + seconds;
    long made = 0;
    char payload[64];
    memset(payload, 'x', sizeof payload);
    struct sockaddr_in address = loopback(port);
    struct linger reset = {.l_onoff = 1, .l_linger = 0};
    while (now() < deadline) {
        long due = (long)((now() - start) * share);
        while (made < due && now() < deadline) {
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (fd < 0) break;
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);  /* no TIME_WAIT left behind */
            if (connect(fd, (struct sockaddr *)&address, sizeof address) == 0 && write(fd, payload, sizeof payload) == sizeof payload) made++;
            close(fd);
        }
        usleep(1000);
    }
    printf("%ld\n", made);
    return 0;
}

int main(int argc, char **argv) {
    raise_fd_limit();
    if (argc == 3 && strcmp(argv[1], "server") == 0) return server(atoi(argv[2]));
    if (argc == 7 && strcmp(argv[1], "client") == 0) return client(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    fprintf(stderr, "usage: churn_load server PORT | client RATE SECONDS PORT WORKERS INDEX\n");
    return 64;
}
