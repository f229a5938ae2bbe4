/*
 * tests/testutil.c - see testutil.h. Child processes are always reaped and
 * killed on timeout, so a test never leaves a process behind.
 */
#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

const char *tu_mkdtemp(const char *tag)
{
	static char path[512];
	const char *tmp = getenv("TMPDIR");

	snprintf(path, sizeof(path), "%s/kgd-%s-XXXXXX", tmp ? tmp : "/tmp", tag);
	if (!mkdtemp(path)) {
		perror("mkdtemp");
		abort();
	}
	return path;
}

void tu_rmtree(const char *path)
{
	char cmd[1024];

	/* Only ever called on folders tu_mkdtemp made. */
	if (strstr(path, "/kgd-") == NULL)
		return;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "warning: could not remove %s\n", path);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int tu_run(char *const argv[], char *out, size_t out_cap, char *errbuf,
	   size_t err_cap, int timeout_s)
{
	int po[2], pe[2], status = 0;
	size_t no = 0, ne = 0;
	double deadline;
	pid_t pid;
	int open_fds = 2, killed = 0;

	if (pipe(po) || pipe(pe))
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		dup2(devnull, 0);
		dup2(po[1], 1);
		dup2(pe[1], 2);
		close(po[0]);
		close(pe[0]);
		execv(argv[0], argv);
		fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	deadline = now_s() + timeout_s;
	while (open_fds > 0) {
		struct pollfd p[2] = {{po[0], POLLIN, 0}, {pe[0], POLLIN, 0}};
		int left_ms = (int)((deadline - now_s()) * 1000);

		if (left_ms <= 0) {
			kill(pid, SIGKILL);
			killed = 1;
			break;
		}
		if (poll(p, 2, left_ms) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			char buf[4096];
			ssize_t n;
			char *dst = i ? errbuf : out;
			size_t cap = i ? err_cap : out_cap;
			size_t *used = i ? &ne : &no;

			if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(p[i].fd, buf, sizeof(buf));
			if (n <= 0) {
				close(p[i].fd);
				if (i)
					pe[0] = -1;
				else
					po[0] = -1;
				open_fds--;
				continue;
			}
			if (dst && cap > 1 && *used < cap - 1) {
				size_t take = (size_t)n;

				if (take > cap - 1 - *used)
					take = cap - 1 - *used;
				memcpy(dst + *used, buf, take);
				*used += take;
			}
		}
	}
	if (po[0] >= 0)
		close(po[0]);
	if (pe[0] >= 0)
		close(pe[0]);
	if (out && out_cap)
		out[no] = '\0';
	if (errbuf && err_cap)
		errbuf[ne] = '\0';
	/* The child may still be running after closing its pipes. */
	while (!killed && now_s() < deadline) {
		pid_t r = waitpid(pid, &status, WNOHANG);

		if (r == pid)
			goto reaped;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	killed = 1;
	waitpid(pid, &status, 0);
	return -1;
reaped:
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

char *tu_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0) {
		rewind(f);
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

/* ---- the virtual station ------------------------------------------------ */

/* Parse "  role: {driver: X, uri: "Y", ...}" lines of the config the
 * simulator writes (its own fixed format, see docs/VIRTUAL_STATION.md). */
static void parse_roles(const char *text, tu_vstation *vs)
{
	const char *line = text;

	vs->n_roles = 0;
	while (line && *line && vs->n_roles < TU_VSTATION_MAX_ROLES) {
		tu_vstation_role *r = &vs->roles[vs->n_roles];
		const char *d = strstr(line, "driver:");
		const char *u = strstr(line, "uri:");
		const char *eol = strchr(line, '\n');

		if (d && u && (!eol || (d < eol && u < eol))
		    && sscanf(line, " %15[a-z0-9_]: {", r->name) == 1
		    && sscanf(d, "driver: %47[^,} ]", r->driver) == 1
		    && sscanf(u, "uri: \"%159[^\"]\"", r->uri) == 1)
			vs->n_roles++;
		line = eol ? eol + 1 : NULL;
	}
}

int tu_vstation_start(const char *scratch_dir, const char *const *extra_args,
		      tu_vstation *out)
{
	static int seq;
	char *argv[64];
	char *text = NULL;
	int argc = 0;
	double deadline;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	snprintf(out->config, sizeof(out->config), "%s/vstation-%d-%d.yaml", scratch_dir,
		 (int)getpid(), seq++);
	argv[argc++] = TU_VSTATION_BIN;
	argv[argc++] = "--config-out";
	argv[argc++] = out->config;
	argv[argc++] = "--lifetime-s";
	argv[argc++] = "120";
	for (; extra_args && *extra_args && argc < 62; extra_args++)
		argv[argc++] = (char *)*extra_args;
	argv[argc] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDWR);

		dup2(devnull, 0);
		dup2(devnull, 1);
		execv(argv[0], argv);
		_exit(127);
	}
	out->pid = (int)pid;
	/* The file appears only once every instrument listens, and whole. */
	deadline = now_s() + 10;
	while (now_s() < deadline && !(text = tu_slurp(out->config, NULL))) {
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			out->pid = 0;
			return -1;
		}
		usleep(5000);
	}
	if (text)
		parse_roles(text, out);
	free(text);
	if (out->n_roles == 0) {
		tu_vstation_stop(out);
		return -1;
	}
	return 0;
}

const char *tu_vstation_uri(const tu_vstation *vs, const char *role)
{
	for (int i = 0; i < vs->n_roles; i++)
		if (strcmp(vs->roles[i].name, role) == 0)
			return vs->roles[i].uri;
	return NULL;
}

int tu_vstation_stop(tu_vstation *vs)
{
	pid_t pid = (pid_t)vs->pid;
	double deadline;
	int status;

	if (pid <= 0)
		return 0;
	vs->pid = 0;
	kill(pid, SIGTERM);
	deadline = now_s() + 5;
	while (now_s() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFSIGNALED(status) ? 128 + WTERMSIG(status)
						   : WEXITSTATUS(status);
		usleep(5000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

void tu_send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);

		if (w <= 0)
			return;
		p += w;
		len -= (size_t)w;
	}
}

static void *peer_main(void *arg)
{
	tu_peer *p = arg;
	struct pollfd pfd = {.fd = p->lfd, .events = POLLIN};
	char buf[1024];
	size_t n = 0;
	int fd;

	if (poll(&pfd, 1, TU_PEER_IDLE_MS) != 1)
		return NULL;
	fd = accept(p->lfd, NULL, NULL);
	if (fd < 0)
		return NULL;
	pfd.fd = fd;
	for (;;) {
		char *nl;
		ssize_t r;

		if (poll(&pfd, 1, TU_PEER_IDLE_MS) != 1)
			break;
		r = recv(fd, buf + n, sizeof(buf) - 1 - n, 0);
		if (r <= 0)
			break;
		n += (size_t)r;
		buf[n] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			int keep;

			*nl = '\0';
			keep = p->answer(p->user, fd, buf);
			n -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, n + 1);
			if (!keep)
				goto out;
		}
	}
out:
	close(fd);
	return NULL;
}

int tu_peer_start(tu_peer *p, tu_line_fn answer, void *user)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t alen = sizeof(a);

	memset(p, 0, sizeof(*p));
	p->answer = answer;
	p->user = user;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&a, sizeof(a)) ||
	    listen(p->lfd, 1) || getsockname(p->lfd, (struct sockaddr *)&a, &alen))
		goto error;
	snprintf(p->uri, sizeof(p->uri), "tcp://127.0.0.1:%d", ntohs(a.sin_port));
	if (pthread_create(&p->th, NULL, peer_main, p) != 0)
		goto error;
	return 0;
error:
	if (p->lfd >= 0)
		close(p->lfd);
	p->lfd = -1;
	return -1;
}

void tu_peer_join(tu_peer *p)
{
	pthread_join(p->th, NULL);
	close(p->lfd);
}

/* ---- a child running while the test goes on ---------------------------- */

extern char **environ;

/* Does environment entry e ("NAME=VALUE") name the variable of spec
 * ("NAME" or "NAME=...")? */
static int env_same_name(const char *e, const char *spec)
{
	size_t n = strcspn(spec, "=");

	return strncmp(e, spec, n) == 0 && e[n] == '=';
}

int tu_spawn(char *const argv[], const char *const *env, const char *out_path,
	     const char *err_path)
{
	size_t n_env = 0, n_spec = 0, k = 0;
	char **envp;
	int fd_out, fd_err;
	pid_t pid;

	/* The child's environment is built here, before fork: between fork
	 * and exec only async-signal-safe calls. */
	while (environ[n_env])
		n_env++;
	while (env && env[n_spec])
		n_spec++;
	envp = calloc(n_env + n_spec + 1, sizeof(*envp));
	if (!envp)
		return -1;
	for (size_t i = 0; i < n_env; i++) {
		int replaced = 0;

		for (size_t j = 0; j < n_spec && !replaced; j++)
			replaced = env_same_name(environ[i], env[j]);
		if (!replaced)
			envp[k++] = environ[i];
	}
	for (size_t j = 0; j < n_spec; j++)
		if (strchr(env[j], '='))
			envp[k++] = (char *)env[j];
	envp[k] = NULL;
	fd_out = open(out_path ? out_path : "/dev/null",
		      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	fd_err = open(err_path ? err_path : "/dev/null",
		      O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd_out < 0 || fd_err < 0) {
		pid = -1;
		goto out;
	}
	pid = fork();
	if (pid == 0) {
		int devnull = open("/dev/null", O_RDONLY);

		dup2(devnull, 0);
		dup2(fd_out, 1);
		dup2(fd_err, 2);
		execve(argv[0], argv, envp);
		_exit(127);
	}
out:
	if (fd_out >= 0)
		close(fd_out);
	if (fd_err >= 0)
		close(fd_err);
	free(envp);
	return pid < 0 ? -1 : (int)pid;
}

int tu_wait(int pid, double timeout_s)
{
	double deadline = now_s() + timeout_s;
	int status;

	if (pid <= 0)
		return -1;
	for (;;) {
		pid_t r = waitpid((pid_t)pid, &status, WNOHANG);

		if (r == (pid_t)pid)
			return WIFSIGNALED(status) ? 128 + WTERMSIG(status)
						   : WEXITSTATUS(status);
		if (r < 0)
			return -1;
		if (now_s() >= deadline)
			break;
		usleep(2000);
	}
	kill((pid_t)pid, SIGKILL);
	waitpid((pid_t)pid, &status, 0);
	return -1;
}
