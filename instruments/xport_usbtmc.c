/*
 * instruments/xport_usbtmc.c - usbtmc://VID:PID[/SERIAL], USB Test &
 * Measurement Class instruments (Thorlabs PM100, many scopes and meters)
 * driven from user space through libusb, so no kernel usbtmc module or
 * /dev/usbtmcN permissions are needed.
 *
 * Framing is in usbtmc.c (pure); this file only moves those frames. A
 * command is sent as DEV_DEP_MSG_OUT messages, the last with EOM. A read
 * sends REQUEST_DEV_DEP_MSG_IN and collects the bulk-IN transfer, which may
 * span several USB reads; a reply without EOM is continued by the next
 * read_some, which the generic layer calls until it sees the terminator
 * (supplied at EOM if the device sent none).
 *
 * Invariant: after a timeout or the station's abort the device's bulk
 * pipes are left in a known state (INITIATE_ABORT_BULK_IN/OUT and their
 * CHECK_*_STATUS), so the next command is not answered with the stale reply
 * of the abandoned one; an endpoint the device halted (STALL) is cleared
 * with CLEAR_HALT before the error goes up, so the next command (or the
 * station's reopen) finds the pipe usable. Bulk transfers are submitted asynchronously and
 * waited for in slices (usbtmc_bulk), so an abort cancels one within a
 * slice, whatever the instrument's timeout.
 */
#include "xport_priv.h"
#include "usbtmc.h"

#include <libusb.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Payload bytes per DEV_DEP_MSG_OUT; any size is legal, this keeps the
 * staging buffer small. */
#define USBTMC_OUT_CHUNK 4096
/* Control requests are answered by the device firmware at once. */
#define USBTMC_CTRL_TIMEOUT_MS 1000
/* Bound on CHECK_*_STATUS polling so a confused device cannot hang us. */
#define USBTMC_CHECK_TRIES 50
/* usbtmc_bulk's "the station's abort ended the wait", beside the (negative)
 * libusb error codes. */
#define USBTMC_ABORTED 1

struct usbtmc_impl {
	libusb_context *ctx;
	libusb_device_handle *h;
	int ifnum;
	unsigned char ep_in, ep_out;
	int in_maxpkt;
	uint8_t btag;             /* last tag used */
	uint8_t *io;              /* staging buffer, io_cap bytes */
	size_t io_cap;
};

static int usbtmc_parse_addr(xport *x, const char *rest, int *vid, int *pid,
			     char *serial, size_t scap, kgd_err *err)
{
	char *end;
	long v, p;
	const char *slash;

	serial[0] = '\0';
	v = strtol(rest, &end, 16);
	if (end != rest + 4 || *end != ':' || v < 0)
		goto bad;
	p = strtol(end + 1, &end, 16);
	if (end != rest + 9 || (*end && *end != '/') || p < 0)
		goto bad;
	slash = *end == '/' ? end + 1 : NULL;
	if (slash) {
		if (!*slash || strlen(slash) >= scap)
			goto bad;
		strcpy(serial, slash);
	}
	*vid = (int)v;
	*pid = (int)p;
	return KGD_OK;
bad:
	return kgd_err_set(err, KGD_ERR_ARG,
			   "%s: malformed address (expected usbtmc://VVVV:PPPP[/SERIAL], "
			   "hexadecimal VID and PID)", x->uri);
}

/* Find the USBTMC interface of dev and its bulk endpoints; 0 if found. */
static int usbtmc_find_interface(libusb_device *dev, struct usbtmc_impl *t)
{
	struct libusb_config_descriptor *cfg;
	int found = -1;

	if (libusb_get_active_config_descriptor(dev, &cfg) != 0 &&
	    libusb_get_config_descriptor(dev, 0, &cfg) != 0)
		return -1;
	for (int i = 0; i < cfg->bNumInterfaces && found < 0; i++) {
		const struct libusb_interface *itf = &cfg->interface[i];

		for (int a = 0; a < itf->num_altsetting && found < 0; a++) {
			const struct libusb_interface_descriptor *d = &itf->altsetting[a];

			if (d->bInterfaceClass != USBTMC_IF_CLASS ||
			    d->bInterfaceSubClass != USBTMC_IF_SUBCLASS)
				continue;
			t->ep_in = t->ep_out = 0;
			for (int e = 0; e < d->bNumEndpoints; e++) {
				const struct libusb_endpoint_descriptor *ep = &d->endpoint[e];

				if ((ep->bmAttributes & 3) != LIBUSB_TRANSFER_TYPE_BULK)
					continue;
				if (ep->bEndpointAddress & LIBUSB_ENDPOINT_IN) {
					t->ep_in = ep->bEndpointAddress;
					t->in_maxpkt = ep->wMaxPacketSize;
				} else {
					t->ep_out = ep->bEndpointAddress;
				}
			}
			if (t->ep_in && t->ep_out) {
				t->ifnum = d->bInterfaceNumber;
				found = 0;
			}
		}
	}
	libusb_free_config_descriptor(cfg);
	return found;
}

static int usbtmc_open(xport *x, const struct xport_uri *u, kgd_err *err)
{
	struct usbtmc_impl *t;
	libusb_device **list = NULL;
	ssize_t n = 0;
	char serial[128], got_serial[128];
	int vid = 0, pid = 0, r, rc;

	rc = usbtmc_parse_addr(x, u->rest, &vid, &pid, serial, sizeof(serial), err);
	if (rc)
		return rc;
	t = calloc(1, sizeof(*t));
	if (!t)
		return kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", x->uri);
	/* A machine without USB (a container without /dev/bus/usb) simply has
	 * no such device; say so rather than blame libusb. */
	r = libusb_init(&t->ctx);
	if (r != 0) {
		t->ctx = NULL;
		rc = kgd_err_set(err, KGD_ERR_NOT_FOUND,
				 "%s: no USBTMC device %04x:%04x found (USB unavailable: %s)",
				 x->uri, vid, pid, libusb_strerror(r));
		goto error;
	}
	n = libusb_get_device_list(t->ctx, &list);
	for (ssize_t i = 0; i < n && !t->h; i++) {
		struct libusb_device_descriptor dd;

		if (libusb_get_device_descriptor(list[i], &dd) != 0 ||
		    dd.idVendor != vid || dd.idProduct != pid ||
		    usbtmc_find_interface(list[i], t) != 0)
			continue;
		r = libusb_open(list[i], &t->h);
		if (r != 0) {
			t->h = NULL;
			rc = kgd_err_set(err, KGD_ERR_IO, "%s: cannot open device: %s",
					 x->uri, libusb_strerror(r));
			continue;
		}
		if (serial[0]) {
			got_serial[0] = '\0';
			if (dd.iSerialNumber)
				libusb_get_string_descriptor_ascii(
					t->h, dd.iSerialNumber, (unsigned char *)got_serial,
					sizeof(got_serial));
			if (strcmp(serial, got_serial) != 0) {
				libusb_close(t->h);
				t->h = NULL;
			}
		}
	}
	if (!t->h) {
		if (rc == KGD_OK)
			rc = kgd_err_set(err, KGD_ERR_NOT_FOUND,
					 "%s: no USBTMC device %04x:%04x%s%s found", x->uri,
					 vid, pid, serial[0] ? " with serial " : "", serial);
		goto error;
	}
	/* The kernel's usbtmc driver may hold the interface; take it over for
	 * as long as we have the device open. */
	libusb_set_auto_detach_kernel_driver(t->h, 1);
	r = libusb_claim_interface(t->h, t->ifnum);
	if (r != 0) {
		rc = kgd_err_set(err, KGD_ERR_IO, "%s: cannot claim interface %d: %s%s",
				 x->uri, t->ifnum, libusb_strerror(r),
				 r == LIBUSB_ERROR_BUSY
				 ? " (another process has the instrument open)" : "");
		goto error;
	}
	if (t->in_maxpkt <= 0)
		t->in_maxpkt = 64;
	/* Room for one whole bulk-IN transfer of a full read-ahead buffer,
	 * rounded up to packets so the device can never overflow it. */
	t->io_cap = USBTMC_HEADER_SIZE + XPORT_RBUF_SIZE + 3;
	t->io_cap = (t->io_cap + (size_t)t->in_maxpkt - 1) / (size_t)t->in_maxpkt *
		    (size_t)t->in_maxpkt;
	if (t->io_cap < usbtmc_out_size(USBTMC_OUT_CHUNK))
		t->io_cap = usbtmc_out_size(USBTMC_OUT_CHUNK);
	t->io = malloc(t->io_cap);
	if (!t->io) {
		rc = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", x->uri);
		goto error;
	}
	libusb_free_device_list(list, 1);
	x->impl = t;
	return KGD_OK;

error:
	if (list)
		libusb_free_device_list(list, 1);
	if (t->h)
		libusb_close(t->h);
	if (t->ctx)
		libusb_exit(t->ctx);
	free(t->io);
	free(t);
	return rc;
}

static void usbtmc_sleep_ms(int ms)
{
	struct timespec ts = {0, (long)ms * 1000000L};

	nanosleep(&ts, NULL);
}

/* Read and drop bulk-IN data until a short packet or nothing comes. */
static void usbtmc_drain_in(struct usbtmc_impl *t)
{
	int got;

	for (int i = 0; i < USBTMC_CHECK_TRIES; i++) {
		if (libusb_bulk_transfer(t->h, t->ep_in, t->io, t->in_maxpkt, &got, 50) != 0 ||
		    got < t->in_maxpkt)
			return;
	}
}

/* USBTMC 4.2.1.4/4.2.1.5: cancel the bulk-IN transfer with tag btag. */
static void usbtmc_abort_in(struct usbtmc_impl *t, uint8_t btag)
{
	uint8_t st[8];

	if (libusb_control_transfer(t->h, 0xA2, USBTMC_REQ_INITIATE_ABORT_BULK_IN,
				    btag, t->ep_in, st, 2, USBTMC_CTRL_TIMEOUT_MS) != 2 ||
	    st[0] != USBTMC_STATUS_SUCCESS)
		return;
	for (int i = 0; i < USBTMC_CHECK_TRIES; i++) {
		usbtmc_drain_in(t);
		if (libusb_control_transfer(t->h, 0xA2,
					    USBTMC_REQ_CHECK_ABORT_BULK_IN_STATUS, 0,
					    t->ep_in, st, 8, USBTMC_CTRL_TIMEOUT_MS) < 1 ||
		    st[0] != USBTMC_STATUS_PENDING)
			return;
		usbtmc_sleep_ms(10);
	}
}

/* USBTMC 4.2.1.2/4.2.1.3: cancel the bulk-OUT transfer with tag btag. */
static void usbtmc_abort_out(struct usbtmc_impl *t, uint8_t btag)
{
	uint8_t st[8];

	if (libusb_control_transfer(t->h, 0xA2, USBTMC_REQ_INITIATE_ABORT_BULK_OUT,
				    btag, t->ep_out, st, 2, USBTMC_CTRL_TIMEOUT_MS) != 2 ||
	    st[0] != USBTMC_STATUS_SUCCESS)
		return;
	for (int i = 0; i < USBTMC_CHECK_TRIES; i++) {
		if (libusb_control_transfer(t->h, 0xA2,
					    USBTMC_REQ_CHECK_ABORT_BULK_OUT_STATUS, 0,
					    t->ep_out, st, 8, USBTMC_CTRL_TIMEOUT_MS) < 1 ||
		    st[0] != USBTMC_STATUS_PENDING)
			break;
		usbtmc_sleep_ms(10);
	}
	libusb_clear_halt(t->h, t->ep_out);
}

static void LIBUSB_CALL usbtmc_bulk_done(struct libusb_transfer *tr)
{
	*(int *)tr->user_data = 1;
}

/* libusb_bulk_transfer() until deadline, except that the wait runs in
 * slices and the station's abort cancels the transfer. The transfer is
 * always reaped before returning, so buf is the caller's again. Returns 0,
 * a LIBUSB_ERROR_* as libusb_bulk_transfer would, or USBTMC_ABORTED; *n
 * gets the bytes moved. */
static int usbtmc_bulk(xport *x, struct usbtmc_impl *t, unsigned char ep,
		       uint8_t *buf, int len, int *n, int64_t deadline)
{
	struct libusb_transfer *tr;
	int64_t left = deadline - xport_now_ms();
	int done = 0, cancelled = 0, r;

	*n = 0;
	if (left <= 0)
		return LIBUSB_ERROR_TIMEOUT;
	tr = libusb_alloc_transfer(0);
	if (!tr)
		return LIBUSB_ERROR_NO_MEM;
	libusb_fill_bulk_transfer(tr, t->h, ep, buf, len, usbtmc_bulk_done, &done,
				  (unsigned)left);
	r = libusb_submit_transfer(tr);
	if (r) {
		libusb_free_transfer(tr);
		return r;
	}
	while (!done) {
		struct timeval tv = {0, XPORT_ABORT_SLICE_MS * 1000};

		r = libusb_handle_events_timeout_completed(t->ctx, &tv, &done);
		/* As libusb's own synchronous wait: on an event-handling error
		 * cancel, and keep handling events until the transfer is back. */
		if ((r < 0 && r != LIBUSB_ERROR_INTERRUPTED && !cancelled) ||
		    (!done && !cancelled && xport_abort_due(x))) {
			cancelled = r < 0 ? -1 : 1;
			libusb_cancel_transfer(tr);
		}
	}
	*n = tr->actual_length;
	switch (tr->status) {
	case LIBUSB_TRANSFER_COMPLETED: r = 0; break;
	case LIBUSB_TRANSFER_TIMED_OUT: r = LIBUSB_ERROR_TIMEOUT; break;
	case LIBUSB_TRANSFER_STALL: r = LIBUSB_ERROR_PIPE; break;
	case LIBUSB_TRANSFER_OVERFLOW: r = LIBUSB_ERROR_OVERFLOW; break;
	case LIBUSB_TRANSFER_NO_DEVICE: r = LIBUSB_ERROR_NO_DEVICE; break;
	case LIBUSB_TRANSFER_CANCELLED:
		r = cancelled == 1 ? USBTMC_ABORTED : LIBUSB_ERROR_IO;
		break;
	default: r = LIBUSB_ERROR_IO; break;
	}
	libusb_free_transfer(tr);
	return r;
}

/* The device halted ep (a STALL handshake): clear it, as USB 2.0 9.4.5
 * asks of the host, and report the transfer as failed. */
static int usbtmc_stalled(xport *x, struct usbtmc_impl *t, unsigned char ep,
			  kgd_err *err)
{
	int r = libusb_clear_halt(t->h, ep);

	return kgd_err_set(err, KGD_ERR_IO, "%s: bulk-%s endpoint 0x%02x stalled (%s)",
			   x->uri, ep & LIBUSB_ENDPOINT_IN ? "IN" : "OUT", ep,
			   r == 0 ? "cleared with CLEAR_HALT"
				  : libusb_strerror(r));
}

static int usbtmc_write(xport *x, const uint8_t *buf, size_t len, int timeout_ms,
			kgd_err *err)
{
	struct usbtmc_impl *t = x->impl;
	size_t done = 0;

	while (done < len) {
		size_t part = len - done, msg_len;
		int sent = 0, r, rc;

		if (part > USBTMC_OUT_CHUNK)
			part = USBTMC_OUT_CHUNK;
		t->btag = usbtmc_next_btag(t->btag);
		rc = usbtmc_build_out(t->io, t->io_cap, t->btag, buf + done, part,
				      done + part == len, &msg_len, err);
		if (rc) {
			kgd_err_prefix(err, "%s: ", x->uri);
			return rc;
		}
		r = usbtmc_bulk(x, t, t->ep_out, t->io, (int)msg_len, &sent,
				xport_now_ms() + timeout_ms);
		if (r == USBTMC_ABORTED) {
			usbtmc_abort_out(t, t->btag);
			return xport_abort_error(x, "sending", err);
		}
		if (r == LIBUSB_ERROR_TIMEOUT) {
			usbtmc_abort_out(t, t->btag);
			return kgd_err_set(err, KGD_ERR_TIMEOUT,
					   "%s: device did not accept command within %d ms",
					   x->uri, timeout_ms);
		}
		if (r == LIBUSB_ERROR_NO_DEVICE)
			return kgd_err_set(err, KGD_ERR_CLOSED, "%s: device unplugged", x->uri);
		if (r == LIBUSB_ERROR_PIPE)
			return usbtmc_stalled(x, t, t->ep_out, err);
		if (r != 0 || (size_t)sent != msg_len)
			return kgd_err_set(err, KGD_ERR_IO, "%s: bulk-OUT: %s", x->uri,
					   r ? libusb_strerror(r) : "short write");
		done += part;
	}
	return KGD_OK;
}

static int usbtmc_read_some(xport *x, uint8_t *buf, size_t cap, size_t *got,
			    int timeout_ms, kgd_err *err)
{
	struct usbtmc_impl *t = x->impl;
	int64_t deadline = xport_now_ms() + timeout_ms;
	struct usbtmc_in st;
	uint8_t req[USBTMC_HEADER_SIZE];
	int n, r, rc;
	unsigned char ep = t->ep_out;

	/* Keep room to append the terminator (see the end of this function). */
	if (cap <= x->term_len)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: read buffer too small", x->uri);
	cap -= x->term_len;
	if (cap > UINT32_MAX)
		cap = UINT32_MAX;
	do {
		/* A device answering empty transfers at once never lets a
		 * transfer wait a slice: check between requests too. */
		if (xport_abort_due(x))
			return xport_abort_error(x, "waiting for a reply", err);
		if (deadline - xport_now_ms() <= 0)
			return KGD_ERR_TIMEOUT;
		t->btag = usbtmc_next_btag(t->btag);
		usbtmc_build_request_in(req, t->btag, (uint32_t)cap, -1);
		ep = t->ep_out;
		r = usbtmc_bulk(x, t, t->ep_out, req, sizeof(req), &n, deadline);
		if (r == LIBUSB_ERROR_TIMEOUT || r == USBTMC_ABORTED) {
			usbtmc_abort_out(t, t->btag);
			return r == USBTMC_ABORTED
				       ? xport_abort_error(x, "waiting for a reply", err)
				       : KGD_ERR_TIMEOUT;
		}
		if (r != 0)
			goto usb_error;
		usbtmc_in_begin(&st, t->btag);
		while (!usbtmc_in_done(&st)) {
			ep = t->ep_in;
			r = usbtmc_bulk(x, t, t->ep_in, t->io, (int)t->io_cap, &n,
					deadline);
			if (r == LIBUSB_ERROR_TIMEOUT || r == USBTMC_ABORTED) {
				usbtmc_abort_in(t, t->btag);
				return r == USBTMC_ABORTED
					       ? xport_abort_error(x, "waiting for a reply",
								   err)
					       : KGD_ERR_TIMEOUT;
			}
			if (r != 0)
				goto usb_error;
			rc = usbtmc_in_feed(&st, t->io, (size_t)n, buf, cap, err);
			/* libusb completes a read early only on a short or zero-length
			 * packet, which ends the transfer on the device side. */
			if (!rc && !usbtmc_in_done(&st) && (size_t)n < t->io_cap)
				rc = usbtmc_in_finish(&st, err);
			if (rc) {
				usbtmc_abort_in(t, t->btag);
				kgd_err_prefix(err, "%s: ", x->uri);
				return rc;
			}
		}
	} while (st.got == 0 && !st.eom); /* an empty transfer carries nothing */
	/* In USB488 EOM is the message terminator and a trailing LF is only
	 * customary. Supply the terminator when the device left it out, so a
	 * read_line above ends at EOM instead of waiting for its timeout. */
	if (st.eom && (st.got < x->term_len ||
		       memcmp(buf + st.got - x->term_len, x->term, x->term_len) != 0)) {
		memcpy(buf + st.got, x->term, x->term_len);
		st.got += x->term_len;
	}
	*got = st.got;
	return KGD_OK;

usb_error:
	if (r == LIBUSB_ERROR_NO_DEVICE)
		return kgd_err_set(err, KGD_ERR_CLOSED, "%s: device unplugged", x->uri);
	if (r == LIBUSB_ERROR_PIPE)
		return usbtmc_stalled(x, t, ep, err);
	return kgd_err_set(err, KGD_ERR_IO, "%s: bulk transfer: %s", x->uri,
			   libusb_strerror(r));
}

static int usbtmc_clear(xport *x, kgd_err *err)
{
	struct usbtmc_impl *t = x->impl;
	uint8_t st[2];
	int r;

	/* USBTMC 4.2.1.6/4.2.1.7: device clear, then wait for it to finish. */
	r = libusb_control_transfer(t->h, 0xA1, USBTMC_REQ_INITIATE_CLEAR, 0,
				    (uint16_t)t->ifnum, st, 1, USBTMC_CTRL_TIMEOUT_MS);
	if (r != 1 || st[0] != USBTMC_STATUS_SUCCESS)
		return kgd_err_set(err, KGD_ERR_IO, "%s: INITIATE_CLEAR failed (%s)",
				   x->uri, r < 0 ? libusb_strerror(r) : "status not success");
	for (int i = 0; i < USBTMC_CHECK_TRIES; i++) {
		r = libusb_control_transfer(t->h, 0xA1, USBTMC_REQ_CHECK_CLEAR_STATUS, 0,
					    (uint16_t)t->ifnum, st, 2,
					    USBTMC_CTRL_TIMEOUT_MS);
		if (r < 1)
			return kgd_err_set(err, KGD_ERR_IO, "%s: CHECK_CLEAR_STATUS: %s",
					   x->uri, libusb_strerror(r));
		if (st[0] != USBTMC_STATUS_PENDING)
			break;
		/* bmClear bit 0: the device waits for us to empty bulk-IN. */
		if (r == 2 && (st[1] & 1))
			usbtmc_drain_in(t);
		usbtmc_sleep_ms(10);
	}
	if (st[0] != USBTMC_STATUS_SUCCESS)
		return kgd_err_set(err, KGD_ERR_IO, "%s: device clear did not complete",
				   x->uri);
	libusb_clear_halt(t->h, t->ep_out);
	return KGD_OK;
}

static void usbtmc_close(xport *x)
{
	struct usbtmc_impl *t = x->impl;

	if (!t)
		return;
	libusb_release_interface(t->h, t->ifnum);
	libusb_close(t->h);
	libusb_exit(t->ctx);
	free(t->io);
	free(t);
	x->impl = NULL;
}

static const char *const usbtmc_params[] = {NULL};

const struct xport_ops xport_usbtmc_ops = {
	.scheme = "usbtmc",
	.params = usbtmc_params,
	.open = usbtmc_open,
	.write = usbtmc_write,
	.read_some = usbtmc_read_some,
	.clear = usbtmc_clear,
	.close = usbtmc_close,
};
