/*
 * testlib.c - loopback HTTP client, server child process, temp dirs.
 *
 * The server's stderr: a drain thread reads the pipe continuously into a
 * private buffer (capped at DRAIN_CAP; beyond it new bytes are dropped and
 * counted, so a test that never reads the log still never blocks the
 * server), and server_proc_read_log() hands the bytes over to p->log.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
http_reply_release(struct http_reply *r)
{
	free(r->head);
	free(r->body);
	memset(r, 0, sizeof(*r));
}

static int
parse_reply(char *buf, size_t len, struct http_reply *out)
{
	char *end, *p;
	size_t hlen, blen;
	const char *cl;
	char tmp[32];

	end = strstr(buf, "\r\n\r\n");
	if (end == NULL || strncmp(buf, "HTTP/1.", 7) != 0)
		return -1;
	hlen = (size_t)(end - buf);
	out->head = strndup(buf, hlen);
	out->status = atoi(buf + 9);
	p = end + 4;
	blen = len - (size_t)(p - buf);
	cl = http_header(out, "Content-Length", tmp, sizeof(tmp));
	if (cl != NULL && strtoul(cl, NULL, 10) < blen)
		blen = strtoul(cl, NULL, 10);
	out->body = malloc(blen + 1);
	if (out->head == NULL || out->body == NULL)
		return -1;
	memcpy(out->body, p, blen);
	out->body[blen] = '\0';
	out->body_len = blen;
	return 0;
}

int
http_raw(unsigned port, const char *raw, size_t len, struct http_reply *out,
    int timeout_ms)
{
	struct sockaddr_in sa;
	struct pollfd pfd;
	long long deadline = now_ms() + timeout_ms;
	char *buf = NULL, *nb;
	size_t got = 0, cap = 0, sent = 0;
	ssize_t n;
	int fd, rc = -1;

	memset(out, 0, sizeof(*out));
	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		goto out;
	while (sent < len) {
		n = send(fd, raw + sent, len - sent, MSG_NOSIGNAL);
		if (n <= 0)
			break;	/* the server may close early (413) */
		sent += (size_t)n;
	}
	pfd.fd = fd;
	pfd.events = POLLIN;
	for (;;) {
		int left = (int)(deadline - now_ms());

		if (left <= 0 || poll(&pfd, 1, left) != 1)
			goto out;
		if (got + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 16384;
			nb = realloc(buf, cap);
			if (nb == NULL)
				goto out;
			buf = nb;
		}
		n = recv(fd, buf + got, cap - got - 1, 0);
		if (n < 0 && errno == ECONNRESET && got > 0)
			break;
		if (n < 0)
			goto out;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (buf == NULL)
		goto out;
	buf[got] = '\0';
	rc = parse_reply(buf, got, out);
out:
	free(buf);
	close(fd);
	return rc;
}

int
http_request(unsigned port, const char *method, const char *path,
    const char *extra, const char *body, size_t body_len,
    struct http_reply *out, int timeout_ms)
{
	char head[4096];
	char *req;
	int n, rc;

	if (body != NULL)
		n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\n"
		    "Host: 127.0.0.1\r\nConnection: close\r\n%s"
		    "Content-Length: %zu\r\n\r\n", method, path,
		    extra ? extra : "", body_len);
	else
		n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\n"
		    "Host: 127.0.0.1\r\nConnection: close\r\n%s\r\n", method,
		    path, extra ? extra : "");
	if (n < 0 || (size_t)n >= sizeof(head))
		return -1;
	req = malloc((size_t)n + body_len + 1);
	if (req == NULL)
		return -1;
	memcpy(req, head, (size_t)n);
	if (body != NULL)
		memcpy(req + n, body, body_len);
	rc = http_raw(port, req, (size_t)n + (body ? body_len : 0), out,
	    timeout_ms);
	free(req);
	return rc;
}

const char *
http_header(const struct http_reply *r, const char *name, char *buf,
    size_t cap)
{
	const char *p, *e, *v;
	size_t nl = strlen(name), vl;

	if (r->head == NULL)
		return NULL;
	p = strstr(r->head, "\r\n");
	while (p != NULL) {
		p += 2;
		e = strstr(p, "\r\n");
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) > nl && strncasecmp(p, name, nl) == 0 &&
		    p[nl] == ':') {
			v = p + nl + 1;
			while (*v == ' ')
				v++;
			vl = (size_t)(e - v);
			if (vl >= cap)
				vl = cap - 1;
			memcpy(buf, v, vl);
			buf[vl] = '\0';
			return buf;
		}
		p = *e ? e : NULL;
	}
	return NULL;
}

const char *
test_bin(void)
{
	const char *b = getenv("CASCADED_BIN");

	return b != NULL && *b ? b : "build/cascaded";
}

#define DRAIN_CAP (64u << 20)

struct server_proc_drain {
	pthread_t th;
	pid_t owner;		/* the process whose thread drains */
	int fd;
	pthread_mutex_t mu;
	char *buf;
	size_t len, cap;
	size_t dropped;
	int eof;
};

static void *
drain_main(void *arg)
{
	struct server_proc_drain *d = arg;
	char tmp[8192], *nb;
	size_t ncap;
	ssize_t n;

	for (;;) {
		n = read(d->fd, tmp, sizeof(tmp));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		pthread_mutex_lock(&d->mu);
		if (d->len + (size_t)n > DRAIN_CAP) {
			d->dropped += (size_t)n;
		} else {
			if (d->len + (size_t)n + 1 > d->cap) {
				ncap = d->cap ? d->cap : 16384;
				while (ncap < d->len + (size_t)n + 1)
					ncap *= 2;
				nb = realloc(d->buf, ncap);
				if (nb != NULL) {
					d->buf = nb;
					d->cap = ncap;
				}
			}
			if (d->len + (size_t)n + 1 <= d->cap) {
				memcpy(d->buf + d->len, tmp, (size_t)n);
				d->len += (size_t)n;
			} else {
				d->dropped += (size_t)n;
			}
		}
		pthread_mutex_unlock(&d->mu);
	}
	pthread_mutex_lock(&d->mu);
	d->eof = 1;
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

static int
drain_start(struct server_proc *p, int fd)
{
	struct server_proc_drain *d = calloc(1, sizeof(*d));

	if (d == NULL)
		return -1;
	d->fd = fd;
	d->owner = getpid();
	pthread_mutex_init(&d->mu, NULL);
	if (pthread_create(&d->th, NULL, drain_main, d) != 0) {
		pthread_mutex_destroy(&d->mu);
		free(d);
		return -1;
	}
	p->drain = d;
	return 0;
}

void
server_proc_read_log(struct server_proc *p)
{
	struct server_proc_drain *d = p->drain;
	char *nl;

	if (d == NULL)
		return;
	/*
	 * In a forked child (Check's CK_FORK with an unchecked fixture) the
	 * drain thread stays in the parent, which keeps emptying the pipe;
	 * the child's copy of the mutex may have been copied locked, so
	 * never wait for it there.
	 */
	if (d->owner != getpid()) {
		if (pthread_mutex_trylock(&d->mu) != 0)
			return;
	} else {
		pthread_mutex_lock(&d->mu);
	}
	if (d->len > 0) {
		nl = realloc(p->log, p->log_len + d->len + 1);
		if (nl != NULL) {
			p->log = nl;
			memcpy(p->log + p->log_len, d->buf, d->len);
			p->log_len += d->len;
			p->log[p->log_len] = '\0';
			d->len = 0;
		}
	}
	pthread_mutex_unlock(&d->mu);
}

/* Wait for the drain thread to see EOF (the child has exited), then free. */
static void
drain_stop(struct server_proc *p)
{
	struct server_proc_drain *d = p->drain;

	if (d == NULL)
		return;
	if (d->owner != getpid()) {
		/* a forked child: no thread here to join; leave the copy */
		p->drain = NULL;
		return;
	}
	pthread_join(d->th, NULL);
	server_proc_read_log(p);
	pthread_mutex_destroy(&d->mu);
	free(d->buf);
	free(d);
	p->drain = NULL;
}

int
server_proc_start(struct server_proc *p, const char *db,
    const char *const *args, int timeout_ms)
{
	const char *argv[64];
	int pipefd[2];
	size_t n = 0;
	long long deadline = now_ms() + timeout_ms;
	const char *l;
	struct timespec nap = { 0, 5 * 1000 * 1000 };

	memset(p, 0, sizeof(*p));
	p->err_fd = -1;
	argv[n++] = test_bin();
	argv[n++] = "serve";
	argv[n++] = "--listen";
	argv[n++] = "127.0.0.1:0";
	argv[n++] = "--db";
	argv[n++] = db;
	while (args != NULL && *args != NULL && n < 62)
		argv[n++] = *args++;
	argv[n] = NULL;
	if (pipe(pipefd) != 0)
		return -1;
	/* only the child's dup2'd stderr may hold the write end */
	fcntl(pipefd[0], F_SETFD, FD_CLOEXEC);
	fcntl(pipefd[1], F_SETFD, FD_CLOEXEC);
	p->pid = fork();
	if (p->pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (p->pid == 0) {
		dup2(pipefd[1], 2);
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	close(pipefd[1]);
	p->err_fd = pipefd[0];
	if (drain_start(p, p->err_fd) != 0)
		return -1;
	while (now_ms() < deadline) {
		nanosleep(&nap, NULL);
		server_proc_read_log(p);
		if (p->log != NULL &&
		    (l = strstr(p->log, "\"listen\":\"127.0.0.1:")) != NULL) {
			p->port = (unsigned)strtoul(l + 20, NULL, 10);
			return p->port > 0 ? 0 : -1;
		}
		if (waitpid(p->pid, NULL, WNOHANG) == p->pid) {
			p->pid = 0;
			return -1;
		}
	}
	return -1;
}

int
server_proc_stop(struct server_proc *p, int sig, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	int status, rc = -1;

	if (p->pid > 0) {
		kill(p->pid, sig);
		for (;;) {
			if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
				if (WIFEXITED(status))
					rc = WEXITSTATUS(status);
				else if (WIFSIGNALED(status))
					rc = 128 + WTERMSIG(status);
				break;
			}
			if (now_ms() > deadline) {
				kill(p->pid, SIGKILL);
				waitpid(p->pid, &status, 0);
				rc = -1;
				break;
			}
			nanosleep(&nap, NULL);
		}
		p->pid = 0;
	}
	if (p->err_fd >= 0) {
		drain_stop(p);
		close(p->err_fd);
		p->err_fd = -1;
	}
	return rc;
}

int
run_command(const char *const *argv, int timeout_ms)
{
	long long deadline = now_ms() + timeout_ms;
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	pid_t pid;
	int status, devnull;

	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0) {
			dup2(devnull, 1);
			dup2(devnull, 2);
		}
		execv(argv[0], (char *const *)(uintptr_t)argv);
		_exit(127);
	}
	for (;;) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
}

char *
tmpdir_new(void)
{
	const char *base = getenv("TMPDIR");
	char *path;
	size_t n;

	if (base == NULL || *base == '\0')
		base = "/tmp";
	n = strlen(base) + 32;
	path = malloc(n);
	if (path == NULL)
		return NULL;
	snprintf(path, n, "%s/cascaded-test.XXXXXX", base);
	if (mkdtemp(path) == NULL) {
		free(path);
		return NULL;
	}
	return path;
}

void
tmpdir_free(char *path)
{
	DIR *d;
	struct dirent *e;
	char f[4096];

	if (path == NULL)
		return;
	d = opendir(path);
	if (d != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
			unlink(f);
		}
		closedir(d);
	}
	rmdir(path);
	free(path);
}

int
fixture_dir(char **dir, char *db, size_t cap, const char *name)
{
	*dir = tmpdir_new();
	if (*dir == NULL)
		return -1;
	snprintf(db, cap, "%s/%s", *dir, name);
	return 0;
}

int
fixture_start(struct server_proc *srv, char **dir, char *db, size_t cap,
    const char *name, const char *const *args, int timeout_ms)
{
	if (fixture_dir(dir, db, cap, name) != 0)
		return -1;
	return server_proc_start(srv, db, args, timeout_ms);
}

void
fixture_stop(struct server_proc *srv, char **dir, int timeout_ms)
{
	if (srv->pid > 0)
		server_proc_stop(srv, SIGKILL, timeout_ms);
	free(srv->log);
	srv->log = NULL;
	tmpdir_free(*dir);
	*dir = NULL;
}
