/*
 * instruments/usbtmc.c - USBTMC bulk framing (see usbtmc.h). Pure: no I/O,
 * no allocation; the libusb transport in xport_usbtmc.c does the wire.
 *
 * Invariant: nothing here reads or writes past the lengths it is given,
 * whatever a device puts in a header.
 */
#include "usbtmc.h"

#include <string.h>

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

uint8_t usbtmc_next_btag(uint8_t b)
{
	/* bTag 0 is reserved by the spec, so the sequence is 1..255, 1, ... */
	return b >= 255 ? 1 : (uint8_t)(b + 1);
}

size_t usbtmc_out_size(size_t len)
{
	return USBTMC_HEADER_SIZE + ((len + 3) & ~(size_t)3);
}

static void usbtmc_header(uint8_t *h, uint8_t msgid, uint8_t btag, uint32_t size,
			  uint8_t attr, uint8_t term)
{
	h[0] = msgid;
	h[1] = btag;
	h[2] = (uint8_t)~btag;
	h[3] = 0;
	put_le32(h + 4, size);
	h[8] = attr;
	h[9] = term;
	h[10] = 0;
	h[11] = 0;
}

int usbtmc_build_out(uint8_t *dst, size_t cap, uint8_t btag, const void *payload,
		     size_t len, int eom, size_t *out_len, kgd_err *err)
{
	size_t total = usbtmc_out_size(len);

	if (btag == 0)
		return kgd_err_set(err, KGD_ERR_ARG, "usbtmc: bTag 0 is reserved");
	if (len > UINT32_MAX || total > cap)
		return kgd_err_set(err, KGD_ERR_ARG,
				   "usbtmc: message of %zu bytes does not fit %zu", len, cap);
	usbtmc_header(dst, USBTMC_DEV_DEP_MSG_OUT, btag, (uint32_t)len,
		      eom ? USBTMC_ATTR_EOM : 0, 0);
	if (len)
		memcpy(dst + USBTMC_HEADER_SIZE, payload, len);
	memset(dst + USBTMC_HEADER_SIZE + len, 0, total - USBTMC_HEADER_SIZE - len);
	*out_len = total;
	return KGD_OK;
}

void usbtmc_build_request_in(uint8_t hdr[USBTMC_HEADER_SIZE], uint8_t btag,
			     uint32_t max_len, int term_char)
{
	usbtmc_header(hdr, USBTMC_REQUEST_DEV_DEP_MSG_IN, btag, max_len,
		      term_char >= 0 ? USBTMC_ATTR_TERMCHAR : 0,
		      term_char >= 0 ? (uint8_t)term_char : 0);
}

int usbtmc_parse_in_header(const uint8_t *buf, size_t len, uint8_t btag,
			   uint32_t *transfer_size, int *eom, kgd_err *err)
{
	if (len < USBTMC_HEADER_SIZE)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "usbtmc: short bulk-IN header (%zu of 12 bytes)", len);
	if (buf[0] != USBTMC_DEV_DEP_MSG_IN)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "usbtmc: bulk-IN MsgID %u, expected %u (DEV_DEP_MSG_IN)",
				   buf[0], USBTMC_DEV_DEP_MSG_IN);
	/* ~bTag written as 255 - bTag: same byte, without int promotion. */
	if (buf[1] != btag || buf[2] != 255u - btag)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "usbtmc: bulk-IN bTag %u (inverse 0x%02x) does not answer "
				   "request %u", buf[1], buf[2], btag);
	*transfer_size = get_le32(buf + 4);
	*eom = buf[8] & USBTMC_ATTR_EOM;
	return KGD_OK;
}

void usbtmc_in_begin(struct usbtmc_in *st, uint8_t btag)
{
	memset(st, 0, sizeof(*st));
	st->btag = btag;
}

int usbtmc_in_feed(struct usbtmc_in *st, const uint8_t *chunk, size_t n,
		   uint8_t *out, size_t out_cap, kgd_err *err)
{
	size_t take;

	if (!st->have_header) {
		int rc = usbtmc_parse_in_header(chunk, n, st->btag, &st->expected,
						&st->eom, err);

		if (rc)
			return rc;
		if (st->expected > out_cap)
			return kgd_err_set(err, KGD_ERR_PROTOCOL,
					   "usbtmc: device announced %u bytes, asked for at "
					   "most %zu", st->expected, out_cap);
		st->have_header = 1;
		chunk += USBTMC_HEADER_SIZE;
		n -= USBTMC_HEADER_SIZE;
	}
	/* Bytes beyond TransferSize are the 0..3 alignment bytes. */
	take = st->expected - st->got;
	if (take > n)
		take = n;
	if (take) {
		memcpy(out + st->got, chunk, take);
		st->got += take;
	}
	return KGD_OK;
}

int usbtmc_in_done(const struct usbtmc_in *st)
{
	return st->have_header && st->got == st->expected;
}

int usbtmc_in_finish(const struct usbtmc_in *st, kgd_err *err)
{
	if (!st->have_header)
		return kgd_err_set(err, KGD_ERR_PROTOCOL, "usbtmc: no bulk-IN header");
	if (st->got < st->expected)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "usbtmc: transfer size %u larger than received %zu",
				   st->expected, st->got);
	return KGD_OK;
}
