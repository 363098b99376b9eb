// escape: a confinement probe. It tries every known way out of its two
// file-system areas (/data read-write, /ro read-only) and prints one line
// per attempt: "NAME ok" or "NAME ERRNO". Every attempt should be denied.
// The host test places a secret next to both areas and a symlink inside /ro
// that points at it.
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *errname(int e) {
    switch (e) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ELOOP: return "ELOOP";
    case EROFS: return "EROFS";
    case EBADF: return "EBADF";
    case EMFILE: return "EMFILE";
    case EXDEV: return "EXDEV";
    case EIO: return "EIO";
    case ENOTCAPABLE: return "ENOTCAPABLE";
    default: {
        static char buf[16];
        snprintf(buf, sizeof buf, "E%d", e);
        return buf;
    }
    }
}

static void report(const char *what, int rc) {
    if (rc >= 0) {
        printf("%s ok\n", what);
    } else {
        printf("%s %s\n", what, errname(errno));
    }
}

static int try_open(const char *path, int flags) {
    int fd = open(path, flags, 0644);
    if (fd >= 0) close(fd);
    return fd;
}

int main(void) {
    report("dotdot", try_open("/data/../secret.txt", O_RDONLY));
    report("dotdot-deep", try_open("/data/a/../../secret.txt", O_RDONLY));
    report("absolute", try_open("/secret.txt", O_RDONLY));
    report("symlink-create", symlink("../secret.txt", "/data/link"));
    report("symlink-follow", try_open("/data/link", O_RDONLY));
    report("symlink-write", try_open("/data/link", O_WRONLY | O_TRUNC));
    report("host-symlink", try_open("/ro/outlink", O_RDONLY));
    report("ro-write", try_open("/ro/file.txt", O_WRONLY));
    report("ro-create", try_open("/ro/new.txt", O_WRONLY | O_CREAT));
    report("ro-unlink", unlink("/ro/file.txt"));
    report("ro-mkdir", mkdir("/ro/d", 0755));
    report("hardlink-out", link("/data/../secret.txt", "/data/hl"));
    report("rename-out", rename("/data/inside.txt", "/data/../moved.txt"));

    // Open the same file until the per-process quota refuses.
    int fds[256], n = 0, rc = 0;
    while (n < 256 && (rc = open("/data/inside.txt", O_RDONLY)) >= 0) fds[n++] = rc;
    printf("fd-exhaustion %s after %d\n", rc < 0 ? errname(errno) : "ok", n);
    for (int i = 0; i < n; i++) close(fds[i]);
    report("fd-after-close", try_open("/data/inside.txt", O_RDONLY));
    return 0;
}
