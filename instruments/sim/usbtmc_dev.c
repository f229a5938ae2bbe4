/*
 * instruments/sim/usbtmc_dev.c - the emulated PM100D's USBTMC function (see
 * usbtmc_dev.h). The device side of USBTMC 1.0: it checks every Bulk-OUT
 * header (bTag and its inverse) as a real device must, sends a reply only
 * against REQUEST_DEV_DEP_MSG_IN, in pieces of at most the requested (and
 * its own --usb-max-transfer) size with EOM on the last, and serves the
 * abort and clear requests so a host can recover from any of them.
 *
 * Invariant: the backend socket is only ever read without blocking; the
 * URB plumbing polls bulk_in again whenever the host reaps, so a reply that
 * arrives later still goes out, and an abandoned one is dropped unseen:
 * an abort or clear also replaces the connection to the instrument, so a
 * reply still in the making (latency beyond the host's timeout) goes to
 * the old one and is never taken for the next command's. The instrument's
 * settings and error queue are its own, not the connection's, and stay.
 */
#include "usbtmc_dev.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MSG_OUT 1
#define MSG_REQUEST_IN 2
#define MSG_IN 2
#define ST_SUCCESS 0x01
#define ST_FAILED 0x80
#define ST_NOT_IN_PROGRESS 0x81

static const char *const fault_names[USBTMC_FAULT_KINDS] = {
	"stall", "btag", "short", "zlp", "unplug", "nak-out"};

static void dev_log(usbtmc_dev *d, const char *fmt, const char *what, unsigned a,
		    unsigned b)
{
	if (!d->log)
		return;
	fprintf(d->log, fmt, what, a, b);
	fputc('\n', d->log);
	fflush(d->log);
}

int usbtmc_dev_add_fault(usbtmc_dev *d, const char *spec)
{
	size_t len = strcspn(spec, ":");
	long after = 0;
	int k = -1;

	for (int i = 0; i < USBTMC_FAULT_KINDS; i++)
		if (strlen(fault_names[i]) == len && strncmp(spec, fault_names[i], len) == 0)
			k = i;
	if (k < 0 || d->n_faults == USBTMC_DEV_MAX_FAULTS)
		return -1;
	if (spec[len]) {
		char *end;

		if (strncmp(spec + len, ":after=", 7) != 0)
			return -1;
		after = strtol(spec + len + 7, &end, 10);
		if (end == spec + len + 7 || *end || after < 0)
			return -1;
	}
	d->faults[d->n_faults++] = (usbtmc_dev_fault){(enum usbtmc_dev_fault_kind)k,
						      after, 0};
	return 0;
}

int usbtmc_dev_connect(usbtmc_dev *d, int port)
{
	struct sockaddr_in a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    fcntl(fd, F_SETFL, O_NONBLOCK) != 0) {
		close(fd);
		return -1;
	}
	d->backend = fd;
	d->port = port;
	return 0;
}

void usbtmc_dev_close(usbtmc_dev *d)
{
	if (d->backend > 0)
		close(d->backend);
	d->backend = -1;
}

/* Take whatever the instrument has answered so far. */
static void pump_backend(usbtmc_dev *d)
{
	while (d->reply_len < sizeof(d->reply)) {
		ssize_t n = recv(d->backend, d->reply + d->reply_len,
				 sizeof(d->reply) - d->reply_len, MSG_DONTWAIT);

		if (n <= 0)
			return;
		d->reply_len += (size_t)n;
	}
}

/* Forget every answer given or coming for abandoned messages. */
static void drop_replies(usbtmc_dev *d)
{
	usbtmc_dev_close(d);
	if (usbtmc_dev_connect(d, d->port) != 0)
		dev_log(d, "%s%.0u%.0u: cannot reconnect to the instrument", "abort", 0, 0);
	d->reply_len = 0;
	d->in_len = d->in_off = 0;
	d->req_open = 0;
}

static void put_header(uint8_t *h, uint8_t id, uint8_t btag, uint32_t size, uint8_t attr)
{
	memset(h, 0, 12);
	h[0] = id;
	h[1] = btag;
	h[2] = (uint8_t)~btag;
	h[4] = (uint8_t)size;
	h[5] = (uint8_t)(size >> 8);
	h[6] = (uint8_t)(size >> 16);
	h[7] = (uint8_t)(size >> 24);
	h[8] = attr;
}

/* The fault due now, or -1: a Bulk-OUT one (out) at a command's
 * transfer, the others at a reply. */
static int due_fault(usbtmc_dev *d, int out)
{
	for (int i = 0; i < d->n_faults; i++)
		if (!d->faults[i].fired && d->commands > d->faults[i].after &&
		    (d->faults[i].kind == USBTMC_FAULT_NAK_OUT) == out) {
			d->faults[i].fired = 1;
			dev_log(d, "fault %s at command %u%.0u", fault_names[d->faults[i].kind],
				(unsigned)d->commands, 0);
			return (int)d->faults[i].kind;
		}
	return -1;
}

int usbtmc_dev_bulk_out(usbtmc_dev *d, const uint8_t *b, size_t len)
{
	uint32_t size;

	if (d->unplugged)
		return -1;
	if (len < 12 || b[2] + b[1] != 255 || b[1] == 0 || b[3] != 0) {
		dev_log(d, "%s bTag=%u inverse=%u: Bulk-OUT halted", "bad header",
			len >= 2 ? b[1] : 0, len >= 3 ? b[2] : 0);
		return -1;
	}
	size = (uint32_t)b[4] | (uint32_t)b[5] << 8 | (uint32_t)b[6] << 16 |
	       (uint32_t)b[7] << 24;
	if (b[0] == MSG_REQUEST_IN) {
		d->req_open = 1;
		d->req_btag = b[1];
		d->req_max = size;
		return 0;
	}
	if (b[0] != MSG_OUT || size > len - 12 ||
	    d->cmd_len + size >= sizeof(d->cmd)) {
		dev_log(d, "%s MsgID=%u size=%u: Bulk-OUT halted", "bad message", b[0], size);
		return -1;
	}
	d->last_out_btag = b[1];
	/* Counted as the command it would be: after=N holds command N+1. */
	d->commands++;
	if (due_fault(d, 1) == USBTMC_FAULT_NAK_OUT) {
		d->commands--;
		d->out_held = 1;
		return 1;
	}
	d->commands--;
	memcpy(d->cmd + d->cmd_len, b + 12, size);
	d->cmd_len += size;
	if (b[8] & 1) {  /* EOM: the command is whole, the instrument gets it */
		if (d->cmd_len == 0 || d->cmd[d->cmd_len - 1] != '\n')
			d->cmd[d->cmd_len++] = '\n';
		d->commands++;
		if (send(d->backend, d->cmd, d->cmd_len, MSG_NOSIGNAL) != (ssize_t)d->cmd_len)
			dev_log(d, "%s%u%u: instrument link lost", "", 0, 0);
		d->cmd_len = 0;
	}
	return 0;
}

enum usbtmc_in_result usbtmc_dev_bulk_in(usbtmc_dev *d, uint8_t *buf, size_t cap,
					 size_t *n)
{
	char *nl;
	size_t line, pay, total;
	int fault, eom;

	*n = 0;
	if (d->unplugged)
		return USBTMC_IN_UNPLUG;
	if (d->in_halted)
		return USBTMC_IN_STALL;
	if (d->in_off < d->in_len)
		goto send;
	if (!d->req_open)
		return USBTMC_IN_PENDING;
	pump_backend(d);
	nl = memchr(d->reply, '\n', d->reply_len);
	if (!nl && d->reply_len < sizeof(d->reply))
		return USBTMC_IN_PENDING;
	line = nl ? (size_t)(nl - d->reply) + 1 : d->reply_len;
	fault = due_fault(d, 0);
	if (fault == USBTMC_FAULT_STALL || fault == USBTMC_FAULT_ZLP ||
	    fault == USBTMC_FAULT_UNPLUG) {
		/* The reply is lost with the transfer. */
		memmove(d->reply, d->reply + line, d->reply_len - line);
		d->reply_len -= line;
		d->req_open = 0;
		d->in_halted = fault == USBTMC_FAULT_STALL;
		d->unplugged = fault == USBTMC_FAULT_UNPLUG;
		return fault == USBTMC_FAULT_STALL ? USBTMC_IN_STALL
		       : fault == USBTMC_FAULT_UNPLUG ? USBTMC_IN_UNPLUG : USBTMC_IN_DATA;
	}
	pay = line;
	if (pay > d->req_max)
		pay = d->req_max;
	if (d->max_transfer && pay > d->max_transfer)
		pay = d->max_transfer;
	eom = pay == line;
	put_header(d->in_msg, MSG_IN,
		   fault == USBTMC_FAULT_BTAG ? (uint8_t)(d->req_btag % 255 + 1) : d->req_btag,
		   (uint32_t)pay, eom ? 1 : 0);
	memcpy(d->in_msg + 12, d->reply, pay);
	total = 12 + ((pay + 3) & ~(size_t)3);
	memset(d->in_msg + 12 + pay, 0, total - 12 - pay);
	memmove(d->reply, d->reply + pay, d->reply_len - pay);
	d->reply_len -= pay;
	d->req_open = 0;
	/* A short transfer: the header promises pay bytes, half come. */
	d->in_len = fault == USBTMC_FAULT_SHORT ? 12 + pay / 2 : total;
	d->in_off = 0;
send:
	*n = d->in_len - d->in_off;
	if (*n > cap)
		*n = cap;
	memcpy(buf, d->in_msg + d->in_off, *n);
	d->in_off += *n;
	if (d->in_off == d->in_len)
		d->in_len = d->in_off = 0;
	return USBTMC_IN_DATA;
}

void usbtmc_dev_clear_halt(usbtmc_dev *d, unsigned ep)
{
	dev_log(d, "%s ep=0x%02x%.0u", "CLEAR_HALT", ep, 0);
	if (ep & 0x80)
		d->in_halted = 0;
}

int usbtmc_dev_class_request(usbtmc_dev *d, uint8_t type, uint8_t req,
			     uint16_t value, uint16_t index, uint8_t *data,
			     uint16_t wlength, size_t *n)
{
	uint8_t r[24];
	size_t len;
	const char *name;

	memset(r, 0, sizeof(r));
	(void)index;
	switch (req) {
	case 1:  /* INITIATE_ABORT_BULK_OUT: drop the command being sent */
		name = "INITIATE_ABORT_BULK_OUT";
		r[0] = value == d->last_out_btag ? ST_SUCCESS : ST_NOT_IN_PROGRESS;
		r[1] = d->last_out_btag;
		if (r[0] == ST_SUCCESS)
			d->cmd_len = 0, d->out_held = 0;
		d->abort_out_pending = r[0] == ST_SUCCESS;
		len = 2;
		break;
	case 2:  /* CHECK_ABORT_BULK_OUT_STATUS */
		name = "CHECK_ABORT_BULK_OUT_STATUS";
		r[0] = d->abort_out_pending ? ST_SUCCESS : ST_NOT_IN_PROGRESS;
		d->abort_out_pending = 0;
		len = 8;
		break;
	case 3:  /* INITIATE_ABORT_BULK_IN: the reply to bTag value is not wanted */
		name = "INITIATE_ABORT_BULK_IN";
		r[0] = (d->req_open || d->in_len) && value == d->req_btag ? ST_SUCCESS
									  : ST_FAILED;
		r[1] = d->req_btag;
		if (r[0] == ST_SUCCESS)
			drop_replies(d);
		d->abort_in_pending = r[0] == ST_SUCCESS;
		len = 2;
		break;
	case 4:  /* CHECK_ABORT_BULK_IN_STATUS: nothing left queued */
		name = "CHECK_ABORT_BULK_IN_STATUS";
		r[0] = d->abort_in_pending ? ST_SUCCESS : ST_NOT_IN_PROGRESS;
		d->abort_in_pending = 0;
		len = 8;
		break;
	case 5:  /* INITIATE_CLEAR: the device's input and output are emptied */
		name = "INITIATE_CLEAR";
		d->cmd_len = 0;
		drop_replies(d);
		r[0] = ST_SUCCESS;
		len = 1;
		break;
	case 6:  /* CHECK_CLEAR_STATUS */
		name = "CHECK_CLEAR_STATUS";
		r[0] = ST_SUCCESS;
		len = 2;
		break;
	case 7:  /* GET_CAPABILITIES: USBTMC 1.00, USB488 1.00, no TermChar */
		name = "GET_CAPABILITIES";
		r[0] = ST_SUCCESS;
		r[2] = 0x00;
		r[3] = 0x01;   /* bcdUSBTMC 1.00 */
		r[12] = 0x00;
		r[13] = 0x01;  /* bcdUSB488 1.00 */
		r[14] = 0x04;  /* USB488.2 interface */
		r[15] = 0x0f;  /* SCPI, SR1, RL1, DT1 */
		len = 24;
		break;
	case 128:  /* USB488 READ_STATUS_BYTE: status byte 0 */
		name = "READ_STATUS_BYTE";
		r[0] = ST_SUCCESS;
		r[1] = (uint8_t)value;
		len = 3;
		break;
	default:
		dev_log(d, "%s request %u type 0x%02x: stall", "unknown", req, type);
		return -1;
	}
	if (len > wlength)
		len = wlength;
	memcpy(data, r, len);
	*n = len;
	dev_log(d, "%s wValue=%u -> 0x%02x", name, value, r[0]);
	return 0;
}
