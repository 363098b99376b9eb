// netprobe: WASI preview 1 sockets from C, with nothing but the raw calls
// (wasi-libc hides accept/recv/send behind __wasilibc_unmodified_upstream).
//
//	netprobe serve N        accept N connections on the first listener the
//	                        kernel opened (blocking), echo each until its peer
//	                        shuts down writing, then exit
//	netprobe dial ADDR MSG  dial ADDR (orbital_v1.sock_connect), send MSG,
//	                        print the reply
//	netprobe probe          try every socket call on descriptors 0-9 and a
//	                        dial, and print what each returned: run without a
//	                        network grant, every one is refused
//
// Lines are "WHAT ok" or "WHAT ERRNO" (WASI errno names).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wasi/api.h>

#include "../../sdk/c/orbital.h"

static const char *errname(__wasi_errno_t e) {
    switch (e) {
    case __WASI_ERRNO_SUCCESS: return "ok";
    case __WASI_ERRNO_BADF: return "EBADF";
    case __WASI_ERRNO_NOTSOCK: return "ENOTSOCK";
    case __WASI_ERRNO_NOTCAPABLE: return "ENOTCAPABLE";
    case __WASI_ERRNO_INVAL: return "EINVAL";
    case __WASI_ERRNO_NOTCONN: return "ENOTCONN";
    case __WASI_ERRNO_AGAIN: return "EAGAIN";
    case __WASI_ERRNO_MFILE: return "EMFILE";
    case __WASI_ERRNO_PIPE: return "EPIPE";
    case __WASI_ERRNO_CONNRESET: return "ECONNRESET";
    default: {
        static char buf[16];
        snprintf(buf, sizeof buf, "E%d", e);
        return buf;
    }
    }
}

// listener returns the first descriptor that is a stream socket with the
// right to accept, or -1.
static int listener(void) {
    for (int fd = 3; fd < 64; fd++) {
        __wasi_fdstat_t st;
        if (__wasi_fd_fdstat_get(fd, &st) != 0) continue;
        if (st.fs_filetype == __WASI_FILETYPE_SOCKET_STREAM && (st.fs_rights_base & __WASI_RIGHTS_SOCK_ACCEPT)) return fd;
    }
    return -1;
}

static int serve(int n) {
    int lfd = listener();
    if (lfd < 0) {
        printf("serve no listener\n");
        return 1;
    }
    printf("serve listener %d\n", lfd);
    fflush(stdout);
    char buf[4096];
    for (int i = 0; i < n; i++) {
        __wasi_fd_t c;
        __wasi_errno_t e = __wasi_sock_accept(lfd, 0, &c);
        if (e != 0) {
            printf("accept %s\n", errname(e));
            return 1;
        }
        size_t total = 0;
        for (;;) {
            __wasi_iovec_t iov = {(uint8_t *)buf, sizeof buf};
            __wasi_size_t got;
            __wasi_roflags_t rof;
            e = __wasi_sock_recv(c, &iov, 1, 0, &got, &rof);
            if (e != 0 || got == 0) break;
            for (size_t off = 0; off < got;) {
                __wasi_ciovec_t ciov = {(const uint8_t *)buf + off, got - off};
                __wasi_size_t sent;
                if ((e = __wasi_sock_send(c, &ciov, 1, 0, &sent)) != 0) break;
                off += sent;
            }
            if (e != 0) break;
            total += got;
        }
        printf("conn %d echoed %zu %s\n", i + 1, total, errname(e));
        fflush(stdout);
        (void)__wasi_sock_shutdown(c, __WASI_SDFLAGS_WR);
        (void)__wasi_fd_close(c);
    }
    printf("served %d\n", n);
    return 0;
}

static int dial(const char *addr, const char *msg) {
    int32_t fd = -1;
    int32_t rc = orbital_sock_connect(addr, (int32_t)strlen(addr), &fd);
    if (rc != 0) {
        printf("dial %s rc=%d\n", addr, rc);
        return 2;
    }
    size_t len = strlen(msg);
    for (size_t off = 0; off < len;) {
        __wasi_ciovec_t ciov = {(const uint8_t *)msg + off, len - off};
        __wasi_size_t sent;
        __wasi_errno_t e = __wasi_sock_send(fd, &ciov, 1, 0, &sent);
        if (e != 0) {
            printf("send %s\n", errname(e));
            return 1;
        }
        off += sent;
    }
    (void)__wasi_sock_shutdown(fd, __WASI_SDFLAGS_WR);
    char buf[4096];
    size_t have = 0;
    for (;;) {
        __wasi_iovec_t iov = {(uint8_t *)buf + have, sizeof buf - 1 - have};
        __wasi_size_t got;
        __wasi_roflags_t rof;
        __wasi_errno_t e = __wasi_sock_recv(fd, &iov, 1, 0, &got, &rof);
        if (e != 0) {
            printf("recv %s\n", errname(e));
            return 1;
        }
        if (got == 0 || have + got >= sizeof buf - 1) break;
        have += got;
    }
    buf[have] = 0;
    printf("reply %s\n", buf);
    (void)__wasi_fd_close(fd);
    return 0;
}

static int probe(void) {
    char buf[1];
    for (int fd = 0; fd < 10; fd++) {
        __wasi_fd_t c;
        printf("accept %d %s\n", fd, errname(__wasi_sock_accept(fd, 0, &c)));
        __wasi_iovec_t iov = {(uint8_t *)buf, 1};
        __wasi_size_t n;
        __wasi_roflags_t rof;
        printf("recv %d %s\n", fd, errname(__wasi_sock_recv(fd, &iov, 1, 0, &n, &rof)));
        __wasi_ciovec_t ciov = {(const uint8_t *)"x", 1};
        printf("send %d %s\n", fd, errname(__wasi_sock_send(fd, &ciov, 1, 0, &n)));
        printf("shutdown %d %s\n", fd, errname(__wasi_sock_shutdown(fd, __WASI_SDFLAGS_RD | __WASI_SDFLAGS_WR)));
    }
    int32_t fd = -1;
    const char *addr = "127.0.0.1:1";
    printf("dial %s rc=%d\n", addr, orbital_sock_connect(addr, (int32_t)strlen(addr), &fd));
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 3 && strcmp(argv[1], "serve") == 0) return serve(atoi(argv[2]));
    if (argc >= 4 && strcmp(argv[1], "dial") == 0) return dial(argv[2], argv[3]);
    if (argc >= 2 && strcmp(argv[1], "probe") == 0) return probe();
    fprintf(stderr, "usage: netprobe serve N | dial ADDR MSG | probe\n");
    return 64;
}
