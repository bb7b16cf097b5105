/* devcheck: what the devices cgroup lets this process do, one line per check.
 *
 *   devcheck CHECK...
 *     open=PATH            open PATH read-only
 *     openrw=PATH          open PATH read-write
 *     mknod=PATH,T,MAJ,MIN mknod a node (T b or c), then open it read-only,
 *                          then remove it: "mknod RESULT open RESULT"
 *     pty                  open /dev/ptmx, unlock, open the pts it names
 *
 * Each result is "ok" or the errno's name (EPERM, ENOENT...).  Exit 0.
 * Static C so that it runs the same on the host and in the v2 VM. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static const char *res(int ok) {
    static char buf[32];
    if (ok) return "ok";
    switch (errno) {
    case EPERM: return "EPERM";
    case EACCES: return "EACCES";
    case ENOENT: return "ENOENT";
    case ENXIO: return "ENXIO";
    case ENODEV: return "ENODEV";
    case EEXIST: return "EEXIST";
    case EINVAL: return "EINVAL";
    case EIO: return "EIO";
    case EBUSY: return "EBUSY";
    }
    snprintf(buf, sizeof buf, "E%d", errno);
    return buf;
}

static int try_open(const char *p, int flags) {
    int fd = open(p, flags | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) return 0;
    close(fd);
    return 1;
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (!strncmp(a, "open=", 5)) {
            printf("%s %s\n", a, res(try_open(a + 5, O_RDONLY)));
        } else if (!strncmp(a, "openrw=", 7)) {
            printf("%s %s\n", a, res(try_open(a + 7, O_RDWR)));
        } else if (!strncmp(a, "mknod=", 6)) {
            char path[4096], t;
            unsigned ma, mi;
            if (sscanf(a + 6, "%4095[^,],%c,%u,%u", path, &t, &ma, &mi) != 4) {
                printf("%s bad-check\n", a);
                continue;
            }
            unlink(path);
            int m = mknod(path, (t == 'b' ? S_IFBLK : S_IFCHR) | 0600, makedev(ma, mi)) == 0;
            const char *mr = res(m);
            char mres[32];
            snprintf(mres, sizeof mres, "%s", mr);
            const char *orr = m ? res(try_open(path, O_RDONLY)) : "-";
            printf("%s mknod %s open %s\n", a, mres, orr);
            unlink(path);
        } else if (!strcmp(a, "pty")) {
            int m = posix_openpt(O_RDWR | O_NOCTTY);
            if (m < 0) { printf("pty ptmx %s\n", res(0)); continue; }
            char *name = (grantpt(m) == 0 && unlockpt(m) == 0) ? ptsname(m) : NULL;
            if (!name) { printf("pty unlock %s\n", res(0)); close(m); continue; }
            printf("pty %s\n", res(try_open(name, O_RDWR)));
            close(m);
        } else {
            printf("%s bad-check\n", a);
        }
    }
    return 0;
}
