/*
 * instruments/xport_serial.c - serial:///dev/ttyUSB0?baud=115200&... for
 * RS-232 and USB-serial instruments.
 *
 * Two paths, one behaviour:
 *  - real ports go through libserialport, which knows the quirks of USB
 *    serial adapters and is what the rest of the lab's tools use;
 *  - pseudo-terminals go through plain POSIX termios. libserialport cannot
 *    open a Linux pty: sp_get_port_by_name() looks the device up under
 *    /sys/class/tty (a pty slave has no entry there) and sp_open() issues
 *    serial-only ioctls (TIOCMGET/modem lines, serial_struct) that a pty
 *    rejects. Upstream keeps ptys out of scope (sigrokproject/libserialport
 *    PR #4 is still open). The simulators and tests sit behind ptys, so we
 *    open those ourselves: O_NOCTTY (a station must never acquire an
 *    instrument as its controlling terminal), cfmakeraw (no echo, no line
 *    editing, no CR/LF translation: bytes pass unchanged), cfsetspeed (a
 *    pty ignores it, but the settings stay identical to a real port), and
 *    poll()-bounded reads.
 *
 * Invariant: whichever path opened the port, a read waits at most the
 * timeout it is given and a hang-up of the far end is KGD_ERR_CLOSED. Both
 * paths wait in slices (poll() or libserialport's own timeout), so the
 * station's abort ends a wait within a slice.
 */
#include "xport_priv.h"

#include <errno.h>
#include <fcntl.h>
#include <libserialport.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <termios.h>
#include <unistd.h>

struct serial_cfg {
	long baud;
	long bits;
	enum sp_parity parity;
	long stop;
	enum sp_flowcontrol flow;
};

struct serial_impl {
	struct sp_port *port;      /* libserialport path, or NULL */
	int fd;                    /* termios path, or -1 */
};

static int serial_parse_cfg(xport *x, const struct xport_uri *u,
			    struct serial_cfg *c, kgd_err *err)
{
	static const struct { const char *name; enum sp_parity v; } parities[] = {
		{"none", SP_PARITY_NONE}, {"odd", SP_PARITY_ODD},
		{"even", SP_PARITY_EVEN}, {"mark", SP_PARITY_MARK},
		{"space", SP_PARITY_SPACE},
	};
	static const struct { const char *name; enum sp_flowcontrol v; } flows[] = {
		{"none", SP_FLOWCONTROL_NONE}, {"rtscts", SP_FLOWCONTROL_RTSCTS},
		{"xonxoff", SP_FLOWCONTROL_XONXOFF},
	};
	const char *v;
	size_t i;

	*c = (struct serial_cfg){9600, 8, SP_PARITY_NONE, 1, SP_FLOWCONTROL_NONE};
	if ((v = xport_uri_param(u, "baud")) && xport_parse_long(v, 1, 4000000, &c->baud))
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s: bad baud '%s' (expected a rate such as 115200)",
				   x->uri, v);
	if ((v = xport_uri_param(u, "bits")) && xport_parse_long(v, 5, 8, &c->bits))
		return kgd_err_set(err, KGD_ERR_ARG, "%s: bad bits '%s' (expected 5..8)",
				   x->uri, v);
	if ((v = xport_uri_param(u, "stop")) &&
	    (xport_parse_long(v, 1, 2, &c->stop)))
		return kgd_err_set(err, KGD_ERR_ARG, "%s: bad stop '%s' (expected 1 or 2)",
				   x->uri, v);
	if ((v = xport_uri_param(u, "parity"))) {
		for (i = 0; i < sizeof(parities) / sizeof(parities[0]); i++)
			if (strcmp(v, parities[i].name) == 0)
				break;
		if (i == sizeof(parities) / sizeof(parities[0]))
			return kgd_err_set(err, KGD_ERR_ARG,
					   "%s: bad parity '%s' (expected none, odd, even, "
					   "mark or space)", x->uri, v);
		c->parity = parities[i].v;
	}
	if ((v = xport_uri_param(u, "flow"))) {
		for (i = 0; i < sizeof(flows) / sizeof(flows[0]); i++)
			if (strcmp(v, flows[i].name) == 0)
				break;
		if (i == sizeof(flows) / sizeof(flows[0]))
			return kgd_err_set(err, KGD_ERR_ARG,
					   "%s: bad flow '%s' (expected none, rtscts or xonxoff)",
					   x->uri, v);
		c->flow = flows[i].v;
	}
	return KGD_OK;
}

/* Unix98 pty slaves have majors 136..143 on Linux; /dev/pts/ covers the
 * usual mount point even where the major differs. */
static int serial_is_pty(const char *path)
{
	struct stat st;

	if (strncmp(path, "/dev/pts/", 9) == 0)
		return 1;
	if (stat(path, &st) == 0 && S_ISCHR(st.st_mode) &&
	    major(st.st_rdev) >= 136 && major(st.st_rdev) <= 143)
		return 1;
	return 0;
}

static speed_t serial_speed(long baud)
{
	static const struct { long baud; speed_t s; } rates[] = {
		{50, B50}, {75, B75}, {110, B110}, {134, B134}, {150, B150},
		{200, B200}, {300, B300}, {600, B600}, {1200, B1200},
		{1800, B1800}, {2400, B2400}, {4800, B4800}, {9600, B9600},
		{19200, B19200}, {38400, B38400}, {57600, B57600},
		{115200, B115200}, {230400, B230400}, {460800, B460800},
		{500000, B500000}, {576000, B576000}, {921600, B921600},
		{1000000, B1000000}, {1152000, B1152000}, {1500000, B1500000},
		{2000000, B2000000}, {2500000, B2500000}, {3000000, B3000000},
		{3500000, B3500000}, {4000000, B4000000},
	};

	for (size_t i = 0; i < sizeof(rates) / sizeof(rates[0]); i++)
		if (rates[i].baud == baud)
			return rates[i].s;
	return (speed_t)-1;
}

static int serial_open_termios(xport *x, const char *path,
			       const struct serial_cfg *c, struct serial_impl *s,
			       kgd_err *err)
{
	static const tcflag_t sizes[] = {CS5, CS6, CS7, CS8};
	struct termios tio;
	speed_t speed = serial_speed(c->baud);
	int fd, rc;

	if (speed == (speed_t)-1)
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s: baud %ld not supported by termios", x->uri, c->baud);
	fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return kgd_err_set(err, errno == ENOENT ? KGD_ERR_NOT_FOUND : KGD_ERR_IO,
				   "%s: open %s: %s", x->uri, path, strerror(errno));
	if (tcgetattr(fd, &tio) < 0) {
		rc = kgd_err_set(err, KGD_ERR_IO, "%s: tcgetattr: %s", x->uri,
				 strerror(errno));
		goto error;
	}
	cfmakeraw(&tio);
	cfsetspeed(&tio, speed);
	tio.c_cflag &= ~(tcflag_t)(CSIZE | PARENB | PARODD | CSTOPB | CRTSCTS | CMSPAR);
	tio.c_cflag |= sizes[c->bits - 5] | CLOCAL | CREAD;
	if (c->parity != SP_PARITY_NONE)
		tio.c_cflag |= PARENB;
	if (c->parity == SP_PARITY_ODD || c->parity == SP_PARITY_MARK)
		tio.c_cflag |= PARODD;
	if (c->parity == SP_PARITY_MARK || c->parity == SP_PARITY_SPACE)
		tio.c_cflag |= CMSPAR;
	if (c->stop == 2)
		tio.c_cflag |= CSTOPB;
	if (c->flow == SP_FLOWCONTROL_RTSCTS)
		tio.c_cflag |= CRTSCTS;
	if (c->flow == SP_FLOWCONTROL_XONXOFF)
		tio.c_iflag |= IXON | IXOFF;
	tio.c_cc[VMIN] = 1;
	tio.c_cc[VTIME] = 0;
	if (tcsetattr(fd, TCSANOW, &tio) < 0) {
		rc = kgd_err_set(err, KGD_ERR_IO, "%s: tcsetattr: %s", x->uri,
				 strerror(errno));
		goto error;
	}
	s->fd = fd;
	return KGD_OK;
error:
	close(fd);
	return rc;
}

static int serial_sp_error(xport *x, const char *what, enum sp_return r,
			   kgd_err *err)
{
	char *msg = r == SP_ERR_FAIL ? sp_last_error_message() : NULL;
	int rc = kgd_err_set(err, r == SP_ERR_MEM ? KGD_ERR_NOMEM : KGD_ERR_IO,
			     "%s: %s failed: %s", x->uri, what,
			     msg ? msg : r == SP_ERR_ARG ? "invalid argument"
				       : r == SP_ERR_SUPP ? "not supported" : "error");

	if (msg)
		sp_free_error_message(msg);
	return rc;
}

static int serial_open_sp(xport *x, const char *path, const struct serial_cfg *c,
			  struct serial_impl *s, kgd_err *err)
{
	struct sp_port *port = NULL;
	enum sp_return r;
	const char *what;
	int rc;

	r = sp_get_port_by_name(path, &port);
	if (r == SP_ERR_ARG)
		return kgd_err_set(err, KGD_ERR_IO, "%s: %s is not a serial port", x->uri,
				   path);
	if (r != SP_OK)
		return serial_sp_error(x, "sp_get_port_by_name", r, err);
	what = "sp_open";
	r = sp_open(port, SP_MODE_READ_WRITE);
	if (r == SP_OK && (what = "sp_set_baudrate", r = sp_set_baudrate(port, (int)c->baud)) == SP_OK &&
	    (what = "sp_set_bits", r = sp_set_bits(port, (int)c->bits)) == SP_OK &&
	    (what = "sp_set_parity", r = sp_set_parity(port, c->parity)) == SP_OK &&
	    (what = "sp_set_stopbits", r = sp_set_stopbits(port, (int)c->stop)) == SP_OK &&
	    (what = "sp_set_flowcontrol", r = sp_set_flowcontrol(port, c->flow)) == SP_OK) {
		s->port = port;
		return KGD_OK;
	}
	rc = serial_sp_error(x, what, r, err);
	sp_close(port); /* harmless on a port that failed to open */
	sp_free_port(port);
	return rc;
}

static int serial_open(xport *x, const struct xport_uri *u, kgd_err *err)
{
	struct serial_impl *s;
	struct serial_cfg c;
	const char *path = u->rest;
	int rc, fd;

	if (path[0] != '/')
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s: expected an absolute device path "
				   "(serial:///dev/ttyUSB0?baud=...)", x->uri);
	rc = serial_parse_cfg(x, u, &c, err);
	if (rc)
		return rc;
	/* An unplugged adapter is the common case; say so plainly rather than
	 * pass on whichever library error a missing node happens to cause. */
	if (access(path, F_OK) != 0)
		return kgd_err_set(err, KGD_ERR_NOT_FOUND, "%s: no such port %s",
				   x->uri, path);
	s = malloc(sizeof(*s));
	if (!s)
		return kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", x->uri);
	s->port = NULL;
	s->fd = -1;
	if (serial_is_pty(path)) {
		rc = serial_open_termios(x, path, &c, s, err);
	} else {
		rc = serial_open_sp(x, path, &c, s, err);
		/* A tty that libserialport rejects but that is a terminal (a pty
		 * under an unusual name, a console) still works through termios. */
		if (rc == KGD_ERR_IO &&
		    (fd = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC)) >= 0) {
			int tty = isatty(fd);

			close(fd);
			if (tty)
				rc = serial_open_termios(x, path, &c, s, err);
		}
	}
	if (rc) {
		free(s);
		return rc;
	}
	x->impl = s;
	return KGD_OK;
}

/* libserialport path: its blocking calls take the slice as their timeout
 * (never 0, which would mean "wait forever"). */
static int serial_sp_write(xport *x, struct sp_port *port, const uint8_t *buf,
			   size_t len, int timeout_ms, kgd_err *err)
{
	int64_t deadline = xport_now_ms() + timeout_ms;
	size_t done = 0;

	while (done < len) {
		int slice = xport_slice_ms(deadline);
		enum sp_return r;

		if (slice == 0)
			return kgd_err_set(err, KGD_ERR_TIMEOUT,
					   "%s: write blocked for %d ms", x->uri, timeout_ms);
		r = sp_blocking_write(port, buf + done, len - done, (unsigned)slice);
		if (r < 0)
			return serial_sp_error(x, "sp_blocking_write", r, err);
		done += (size_t)r;
		if (done < len && xport_abort_due(x))
			return xport_abort_error(x, "waiting to send", err);
	}
	return KGD_OK;
}

static int serial_sp_read_some(xport *x, struct sp_port *port, uint8_t *buf,
			       size_t cap, size_t *got, int timeout_ms,
			       kgd_err *err)
{
	int64_t deadline = xport_now_ms() + timeout_ms;

	for (;;) {
		int slice = xport_slice_ms(deadline);
		enum sp_return r = slice ? sp_blocking_read_next(port, buf, cap,
								 (unsigned)slice)
					 : sp_nonblocking_read(port, buf, cap);

		if (r < 0)
			return serial_sp_error(x, slice ? "sp_blocking_read_next"
						       : "sp_nonblocking_read", r, err);
		if (r > 0) {
			*got = (size_t)r;
			return KGD_OK;
		}
		if (xport_abort_due(x))
			return xport_abort_error(x, "waiting for a reply", err);
		if (slice == 0 || deadline - xport_now_ms() <= 0)
			return KGD_ERR_TIMEOUT;
	}
}

static int serial_write(xport *x, const uint8_t *buf, size_t len, int timeout_ms,
			kgd_err *err)
{
	struct serial_impl *s = x->impl;
	int64_t deadline = xport_now_ms() + timeout_ms;
	size_t done = 0;

	if (s->port)
		return serial_sp_write(x, s->port, buf, len, timeout_ms, err);
	while (done < len) {
		ssize_t w = write(s->fd, buf + done, len - done);
		int rc;

		if (w > 0) {
			done += (size_t)w;
			continue;
		}
		if (w < 0 && errno == EIO)
			return kgd_err_set(err, KGD_ERR_CLOSED, "%s: port hung up", x->uri);
		if (w < 0 && errno != EAGAIN && errno != EINTR)
			return kgd_err_set(err, KGD_ERR_IO, "%s: write: %s", x->uri,
					   strerror(errno));
		rc = xport_wait_fd(x, s->fd, POLLOUT, deadline, "waiting to send", err);
		if (rc == KGD_ERR_TIMEOUT)
			return kgd_err_set(err, rc, "%s: write blocked for %d ms", x->uri,
					   timeout_ms);
		if (rc)
			return rc;
	}
	return KGD_OK;
}

static int serial_read_some(xport *x, uint8_t *buf, size_t cap, size_t *got,
			    int timeout_ms, kgd_err *err)
{
	struct serial_impl *s = x->impl;
	int64_t deadline = xport_now_ms() + timeout_ms;

	if (s->port)
		return serial_sp_read_some(x, s->port, buf, cap, got, timeout_ms, err);
	for (;;) {
		ssize_t r = read(s->fd, buf, cap);
		int rc;

		if (r > 0) {
			*got = (size_t)r;
			return KGD_OK;
		}
		/* A pty slave whose master closed reads EIO (or 0 on some
		 * kernels): the instrument, or simulator, is gone. */
		if (r == 0 || errno == EIO)
			return kgd_err_set(err, KGD_ERR_CLOSED, "%s: port hung up", x->uri);
		if (errno != EAGAIN && errno != EINTR)
			return kgd_err_set(err, KGD_ERR_IO, "%s: read: %s", x->uri,
					   strerror(errno));
		if (deadline - xport_now_ms() <= 0)
			return KGD_ERR_TIMEOUT;
		rc = xport_wait_fd(x, s->fd, POLLIN, deadline, "waiting for a reply",
				   err);
		if (rc)
			return rc;
	}
}

static void serial_close(xport *x)
{
	struct serial_impl *s = x->impl;

	if (!s)
		return;
	if (s->port) {
		sp_close(s->port);
		sp_free_port(s->port);
	}
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	x->impl = NULL;
}

static const char *const serial_params[] = {
	"baud", "bits", "parity", "stop", "flow", NULL,
};

const struct xport_ops xport_serial_ops = {
	.scheme = "serial",
	.params = serial_params,
	.open = serial_open,
	.write = serial_write,
	.read_some = serial_read_some,
	.clear = NULL,
	.close = serial_close,
};
