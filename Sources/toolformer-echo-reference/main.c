// toolformer-echo-reference SOCKET_PATH
//
// The yardstick toolformer-bench measures the daemon against: a minimal line echo over a Unix
// socket, one thread, epoll. Whatever a client writes comes back unchanged, so every request line
// returns as one line with its id, and the benchmark drives it with the same client and the same
// lines it sends the daemon. It does no parsing: the gap between it and the daemon is the cost of
// everything the daemon does per message.
#define _GNU_SOURCE  // accept4
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char buffer[256 * 1024];

// Writes all of it; a full socket buffer (a pipelining client that is not reading) waits for room.
static int write_all(int fd, const char *data, ssize_t length) {
    while (length > 0) {
        ssize_t n = send(fd, data, (size_t)length, MSG_NOSIGNAL);
        if (n > 0) { data += n; length -= n; continue; }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) { struct pollfd p = { fd, POLLOUT, 0 }; poll(&p, 1, 1000); continue; }
        return -1;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) { fprintf(stderr, "usage: %s SOCKET_PATH\n", argv[0]); return 2; }
    struct sockaddr_un address = { .sun_family = AF_UNIX };
    if (strlen(argv[1]) >= sizeof address.sun_path) { fprintf(stderr, "socket path too long\n"); return 2; }
    strcpy(address.sun_path, argv[1]);
    unlink(argv[1]);
    int listener = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, SOMAXCONN) < 0) {
        perror("listen");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    int epoll = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event event = { .events = EPOLLIN, .data.fd = listener };
    epoll_ctl(epoll, EPOLL_CTL_ADD, listener, &event);
    struct epoll_event ready[256];
    for (;;) {
        int count = epoll_wait(epoll, ready, 256, -1);
        if (count < 0 && errno == EINTR) continue;
        if (count < 0) { perror("epoll_wait"); return 1; }
        for (int i = 0; i < count; i++) {
            int fd = ready[i].data.fd;
            if (fd == listener) {
                int client;
                while ((client = accept4(listener, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    struct epoll_event e = { .events = EPOLLIN | EPOLLRDHUP, .data.fd = client };
                    epoll_ctl(epoll, EPOLL_CTL_ADD, client, &e);
                }
                continue;
            }
            ssize_t n = recv(fd, buffer, sizeof buffer, 0);
            if (n > 0 && write_all(fd, buffer, n) == 0) continue;
            if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
            close(fd);  // end of stream or an error; closing also removes it from the epoll set
        }
    }
}
