/*
 * tests/drv_peer.c - see drv_peer.h.
 *
 * The child reads byte by byte so a line split across packets, or two lines
 * in one packet, are handled alike; CR before LF is dropped (CRLF hosts).
 */
/* posix_openpt/grantpt/unlockpt/ptsname are XSI, beyond _POSIX_C_SOURCE. */
#define _XOPEN_SOURCE 700

#include "drv_peer.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#define PEER_LIFETIME_S 60

static int record_fd = -1;

void drv_peer_record(int fd)
{
	record_fd = fd;
}

/* One received line, whole, before any answer: by the time the driver has
 * its reply, the line is on record. */
static void record(const char *line, size_t n)
{
	if (record_fd < 0)
		return;
	if (write(record_fd, line, n) != (ssize_t)n || write(record_fd, "\n", 1) != 1)
		_exit(2);  /* a record with holes would prove nothing */
}

/* One program message may hold several commands separated by ';' (the
 * drivers send a reading and SYST:ERR? together). As an IEEE 488.2
 * instrument does, answer each in turn and join the answers with ';' into
 * one reply line. No command of these sets carries a ';' in a parameter. */
static int respond(drv_peer_fn fn, void *state, char *line, char *reply,
		   size_t cap)
{
	char part[4096];
	size_t used = 0;
	int any = 0;

	reply[0] = '\0';
	for (char *save = NULL, *cmd = strtok_r(line, ";", &save); cmd;
	     cmd = strtok_r(NULL, ";", &save)) {
		int r;

		part[0] = '\0';
		r = fn(state, cmd, part, sizeof(part));
		if (r == PEER_HANG)
			return PEER_HANG;
		if (r != PEER_REPLY)
			continue;
		used += (size_t)snprintf(reply + used, used < cap ? cap - used : 0,
					 "%s%s", any ? ";" : "", part);
		any = 1;
	}
	return any ? PEER_REPLY : PEER_NONE;
}

/* Serve one connection until EOF; returns 1 if the responder hung. */
static int serve(int fd, drv_peer_fn fn, void *state, int *hung)
{
	char line[4096], reply[8192];
	size_t n = 0;
	char c;

	while (read(fd, &c, 1) == 1) {
		int r;

		if (c != '\n') {
			if (n < sizeof(line) - 1)
				line[n++] = c;
			continue;
		}
		if (n && line[n - 1] == '\r')
			n--;
		line[n] = '\0';
		record(line, n);
		n = 0;
		if (*hung)
			continue;
		r = respond(fn, state, line, reply, sizeof(reply) - 1);
		if (r == PEER_HANG) {
			*hung = 1;
			continue;
		}
		if (r == PEER_REPLY) {
			size_t len = strlen(reply);

			reply[len++] = '\n';
			if (write(fd, reply, len) != (ssize_t)len)
				return -1;
		}
	}
	return 0;
}

pid_t drv_peer_tcp(drv_peer_fn fn, void *state, char *uri, size_t cap)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	pid_t pid;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) || listen(lfd, 4)
	    || getsockname(lfd, (struct sockaddr *)&sa, &sl)) {
		if (lfd >= 0)
			close(lfd);
		return -1;
	}
	snprintf(uri, cap, "tcp://127.0.0.1:%d", ntohs(sa.sin_port));
	pid = fork();
	if (pid == 0) {
		int hung = 0;

		alarm(PEER_LIFETIME_S);
		for (;;) {
			int fd = accept(lfd, NULL, NULL);

			if (fd < 0)
				_exit(1);
			serve(fd, fn, state, &hung);
			close(fd);
		}
	}
	close(lfd);
	return pid;
}

pid_t drv_peer_pty(drv_peer_fn fn, void *state, const char *params, char *uri,
		   size_t cap)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	struct termios tio;
	const char *slave;
	pid_t pid;

	if (m < 0)
		return -1;
	if (grantpt(m) || unlockpt(m) || !(slave = ptsname(m))) {
		close(m);
		return -1;
	}
	/* Raw on the master too: no echo of what the driver writes. */
	if (tcgetattr(m, &tio) == 0) {
		cfmakeraw(&tio);
		tcsetattr(m, TCSANOW, &tio);
	}
	snprintf(uri, cap, "serial://%s%s%s", slave, params ? "?" : "",
		 params ? params : "");
	pid = fork();
	if (pid == 0) {
		int hung = 0;
		/* Keep a slave fd open so the master does not read EIO between
		 * the driver's close and a re-open. */
		int keep = open(slave, O_RDWR | O_NOCTTY);

		alarm(PEER_LIFETIME_S);
		serve(m, fn, state, &hung);
		if (keep >= 0)
			close(keep);
		_exit(0);
	}
	close(m);
	return pid;
}

void drv_peer_stop(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}
