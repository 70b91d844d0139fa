/* startup.c - start-up time of a server, for `make bench`.
 *
 *   startup RUNS LOG CMD ARG...
 *
 * RUNS times: picks a free loopback port, replaces "{PORT}" in the arguments
 * with it, forks and execs CMD (stdout and stderr appended to LOG), then polls
 * GET /api/v1/health on 127.0.0.1:PORT every 0.2 ms with a raw socket until it
 * answers 200, and stops the server (SIGTERM, then SIGKILL after 5 s). The
 * clock starts just before fork(), so exec, dynamic linking, opening the
 * database and binding are all counted. Prints one line per run and a last
 * line "median_ms=X min_ms=Y max_ms=Z". Exit status 1 if a run fails (the
 * server exits or is not healthy within 10 s). Built by scripts/bench.sh.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof(a);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("startup: free port");
        exit(1);
    }
    close(fd);
    return ntohs(a.sin_port);
}

/* 1 if GET /api/v1/health answers 200 now. */
static int healthy(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int ok = 0;
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0) {
        static const char req[] =
            "GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
        char buf[64];
        if (write(fd, req, sizeof(req) - 1) == (ssize_t)(sizeof(req) - 1)) {
            ssize_t n = read(fd, buf, sizeof(buf) - 1);
            if (n >= 12) {
                buf[n] = '\0';
                ok = strncmp(buf, "HTTP/1.1 200", 12) == 0 || strncmp(buf, "HTTP/1.0 200", 12) == 0;
            }
        }
    }
    close(fd);
    return ok;
}

static void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    for (int i = 0; i < 5000; i++) {
        if (waitpid(pid, NULL, WNOHANG) == pid)
            return;
        usleep(1000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: startup RUNS LOG CMD ARG...\n");
        return 2;
    }
    int runs = atoi(argv[1]);
    const char *log = argv[2];
    if (runs < 1 || runs > 1000)
        return 2;
    double *t = calloc((size_t)runs, sizeof(double));
    char **args = calloc((size_t)argc, sizeof(char *));
    if (t == NULL || args == NULL)
        return 1;

    for (int r = 0; r < runs; r++) {
        int port = free_port();
        char portstr[16];
        snprintf(portstr, sizeof(portstr), "%d", port);
        for (int i = 3; i < argc; i++) {
            const char *p = strstr(argv[i], "{PORT}");
            if (p == NULL) {
                args[i - 3] = argv[i];
                continue;
            }
            size_t n = strlen(argv[i]) + sizeof(portstr);
            args[i - 3] = malloc(n);
            snprintf(args[i - 3], n, "%.*s%s%s", (int)(p - argv[i]), argv[i], portstr, p + 6);
        }
        args[argc - 3] = NULL;

        double t0 = now_ms();
        pid_t pid = fork();
        if (pid < 0) {
            perror("startup: fork");
            return 1;
        }
        if (pid == 0) {
            int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
            if (fd >= 0) {
                dup2(fd, 1);
                dup2(fd, 2);
            }
            execv(args[0], args);
            _exit(127);
        }
        double t1 = 0;
        for (;;) {
            if (healthy(port)) {
                t1 = now_ms();
                break;
            }
            if (waitpid(pid, NULL, WNOHANG) == pid) {
                fprintf(stderr, "startup: run %d: the server exited before it was healthy (see %s)\n",
                        r + 1, log);
                return 1;
            }
            if (now_ms() - t0 > 10000) {
                fprintf(stderr, "startup: run %d: not healthy after 10 s\n", r + 1);
                stop(pid);
                return 1;
            }
            usleep(200);
        }
        stop(pid);
        t[r] = t1 - t0;
        printf("run %d: %.2f ms\n", r + 1, t[r]);
        fflush(stdout);
    }
    qsort(t, (size_t)runs, sizeof(double), cmp_double);
    double median = runs % 2 ? t[runs / 2] : (t[runs / 2 - 1] + t[runs / 2]) / 2;
    printf("median_ms=%.2f min_ms=%.2f max_ms=%.2f\n", median, t[0], t[runs - 1]);
    return 0;
}
