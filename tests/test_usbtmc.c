/*
 * tests/test_usbtmc.c - the USBTMC bulk framing (instruments/usbtmc.c),
 * checked byte by byte against the layout of USBTMC 1.0 section 3: no USB
 * hardware exists on a test machine, so the pure functions carry the
 * protocol and are what we can prove.
 */
#include <CUnit/CUnit.h>
#include <string.h>

#include "usbtmc.h"

static void test_out_header_bytes(void)
{
	static const uint8_t want[20] = {
		1, 1, 0xFE, 0,          /* MsgID DEV_DEP_MSG_OUT, bTag, ~bTag, 0 */
		6, 0, 0, 0,             /* TransferSize 6, little-endian */
		1, 0, 0, 0,             /* EOM, reserved */
		'*', 'I', 'D', 'N', '?', '\n', 0, 0, /* payload + 2 pad bytes */
	};
	uint8_t buf[64];
	size_t n = 0;

	memset(buf, 0xAA, sizeof(buf));
	CU_ASSERT_EQUAL(usbtmc_build_out(buf, sizeof(buf), 1, "*IDN?\n", 6, 1, &n, NULL),
			KGD_OK);
	CU_ASSERT_EQUAL(n, 20);
	for (size_t i = 0; i < sizeof(want); i++)
		CU_ASSERT_EQUAL(buf[i], want[i]);
	CU_ASSERT_EQUAL(buf[20], 0xAA); /* nothing written past the message */
}

static void test_out_sizes_and_attrs(void)
{
	uint8_t buf[400], payload[300];
	size_t n = 0;
	kgd_err err;

	memset(payload, 'x', sizeof(payload));
	/* A multiple of 4 needs no padding. */
	CU_ASSERT_EQUAL(usbtmc_build_out(buf, sizeof(buf), 9, "ABCD", 4, 1, &n, NULL), KGD_OK);
	CU_ASSERT_EQUAL(n, 16);
	CU_ASSERT_EQUAL(usbtmc_out_size(0), 12);
	CU_ASSERT_EQUAL(usbtmc_out_size(1), 16);
	CU_ASSERT_EQUAL(usbtmc_out_size(5), 20);
	/* 300 = 0x012C; not the last message: EOM clear. */
	CU_ASSERT_EQUAL(usbtmc_build_out(buf, sizeof(buf), 200, payload, 300, 0, &n, NULL),
			KGD_OK);
	CU_ASSERT_EQUAL(n, 312);
	CU_ASSERT_EQUAL(buf[1], 200);
	CU_ASSERT_EQUAL(buf[2], 55);
	CU_ASSERT_EQUAL(buf[4], 0x2C);
	CU_ASSERT_EQUAL(buf[5], 0x01);
	CU_ASSERT_EQUAL(buf[6], 0);
	CU_ASSERT_EQUAL(buf[7], 0);
	CU_ASSERT_EQUAL(buf[8], 0);
	/* bTag 0 is reserved; a buffer too small is refused, not overrun. */
	CU_ASSERT_EQUAL(usbtmc_build_out(buf, sizeof(buf), 0, "A", 1, 1, &n, &err),
			KGD_ERR_ARG);
	CU_ASSERT_EQUAL(usbtmc_build_out(buf, 19, 1, "*IDN?\n", 6, 1, &n, &err), KGD_ERR_ARG);
	CU_ASSERT_STRING_EQUAL(err.msg, "usbtmc: message of 6 bytes does not fit 19");
}

static void test_request_in_bytes(void)
{
	static const uint8_t plain[12] = {2, 7, 0xF8, 0, 4, 3, 2, 1, 0, 0, 0, 0};
	static const uint8_t term[12] = {2, 255, 0, 0, 0, 0x10, 0, 0, 2, '\n', 0, 0};
	uint8_t h[12];

	usbtmc_build_request_in(h, 7, 0x01020304u, -1);
	CU_ASSERT_EQUAL(memcmp(h, plain, 12), 0);
	usbtmc_build_request_in(h, 255, 4096, '\n');
	CU_ASSERT_EQUAL(memcmp(h, term, 12), 0);
}

static void test_btag_wrap(void)
{
	uint8_t b = 1;

	CU_ASSERT_EQUAL(usbtmc_next_btag(1), 2);
	CU_ASSERT_EQUAL(usbtmc_next_btag(254), 255);
	CU_ASSERT_EQUAL(usbtmc_next_btag(255), 1);
	CU_ASSERT_EQUAL(usbtmc_next_btag(0), 1);
	/* A full cycle visits 1..255 once each and never 0. */
	for (int i = 0; i < 255; i++) {
		b = usbtmc_next_btag(b);
		CU_ASSERT_NOT_EQUAL(b, 0);
	}
	CU_ASSERT_EQUAL(b, 1);
}

/* A DEV_DEP_MSG_IN header as a device would send it. */
static void in_header(uint8_t *h, uint8_t msgid, uint8_t btag, uint8_t inv,
		      uint32_t size, uint8_t attr)
{
	memset(h, 0, 12);
	h[0] = msgid;
	h[1] = btag;
	h[2] = inv;
	h[4] = (uint8_t)size;
	h[5] = (uint8_t)(size >> 8);
	h[6] = (uint8_t)(size >> 16);
	h[7] = (uint8_t)(size >> 24);
	h[8] = attr;
}

static void test_parse_in_header(void)
{
	uint8_t h[12];
	uint32_t size = 0;
	int eom = -1;
	kgd_err err;

	in_header(h, 2, 5, 0xFA, 0x00010203, 1);
	CU_ASSERT_EQUAL(usbtmc_parse_in_header(h, 12, 5, &size, &eom, &err), KGD_OK);
	CU_ASSERT_EQUAL(size, 0x00010203);
	CU_ASSERT_EQUAL(eom, 1);
	in_header(h, 2, 5, 0xFA, 3, 0);
	CU_ASSERT_EQUAL(usbtmc_parse_in_header(h, 12, 5, &size, &eom, &err), KGD_OK);
	CU_ASSERT_EQUAL(eom, 0);

	in_header(h, 1, 5, 0xFA, 3, 1);
	CU_ASSERT_EQUAL(usbtmc_parse_in_header(h, 12, 5, &size, &eom, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_STRING_EQUAL(err.msg,
			       "usbtmc: bulk-IN MsgID 1, expected 2 (DEV_DEP_MSG_IN)");
	in_header(h, 2, 6, 0xF9, 3, 1); /* consistent, but answers another request */
	CU_ASSERT_EQUAL(usbtmc_parse_in_header(h, 12, 5, &size, &eom, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_STRING_EQUAL(err.msg, "usbtmc: bulk-IN bTag 6 (inverse 0xf9) does not "
			       "answer request 5");
	in_header(h, 2, 5, 0x00, 3, 1); /* right tag, corrupt inverse */
	CU_ASSERT_EQUAL(usbtmc_parse_in_header(h, 12, 5, &size, &eom, &err), KGD_ERR_PROTOCOL);
	in_header(h, 2, 5, 0xFA, 3, 1);
	CU_ASSERT_EQUAL(usbtmc_parse_in_header(h, 11, 5, &size, &eom, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_STRING_EQUAL(err.msg, "usbtmc: short bulk-IN header (11 of 12 bytes)");
}

static void test_in_single_transfer(void)
{
	uint8_t pkt[20], out[64];
	struct usbtmc_in st;

	in_header(pkt, 2, 9, 0xF6, 5, 1);
	memcpy(pkt + 12, "hello\0\0\0", 8); /* 5 bytes + 3 alignment bytes */
	usbtmc_in_begin(&st, 9);
	CU_ASSERT_EQUAL(usbtmc_in_feed(&st, pkt, sizeof(pkt), out, sizeof(out), NULL), KGD_OK);
	CU_ASSERT_TRUE(usbtmc_in_done(&st));
	CU_ASSERT_EQUAL(st.got, 5);
	CU_ASSERT_EQUAL(st.eom, 1);
	CU_ASSERT_EQUAL(memcmp(out, "hello", 5), 0);
	CU_ASSERT_EQUAL(usbtmc_in_finish(&st, NULL), KGD_OK);
}

static void test_in_split_transfer(void)
{
	/* 100 payload bytes over 64-byte packets: 12 + 52, then 48 + 0 pad. */
	uint8_t p1[64], p2[48], out[128], want[100];
	struct usbtmc_in st;

	for (int i = 0; i < 100; i++)
		want[i] = (uint8_t)(i * 7);
	in_header(p1, 2, 255, 0x00, 100, 0);
	memcpy(p1 + 12, want, 52);
	memcpy(p2, want + 52, 48);
	usbtmc_in_begin(&st, 255);
	CU_ASSERT_EQUAL(usbtmc_in_feed(&st, p1, sizeof(p1), out, sizeof(out), NULL), KGD_OK);
	CU_ASSERT_FALSE(usbtmc_in_done(&st));
	CU_ASSERT_EQUAL(st.got, 52);
	CU_ASSERT_EQUAL(usbtmc_in_feed(&st, p2, sizeof(p2), out, sizeof(out), NULL), KGD_OK);
	CU_ASSERT_TRUE(usbtmc_in_done(&st));
	CU_ASSERT_EQUAL(st.got, 100);
	CU_ASSERT_EQUAL(st.eom, 0); /* more to request: the reply continues */
	CU_ASSERT_EQUAL(memcmp(out, want, 100), 0);
}

static void test_in_short_and_oversize(void)
{
	uint8_t pkt[16], out[16];
	struct usbtmc_in st;
	kgd_err err;

	/* Header promises 10 bytes, the device ends the transfer after 4. */
	in_header(pkt, 2, 3, 0xFC, 10, 1);
	memcpy(pkt + 12, "abcd", 4);
	usbtmc_in_begin(&st, 3);
	CU_ASSERT_EQUAL(usbtmc_in_feed(&st, pkt, 16, out, 10, &err), KGD_OK);
	CU_ASSERT_FALSE(usbtmc_in_done(&st));
	CU_ASSERT_EQUAL(usbtmc_in_finish(&st, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_STRING_EQUAL(err.msg, "usbtmc: transfer size 10 larger than received 4");

	/* More than we asked for must not be copied past out. */
	usbtmc_in_begin(&st, 3);
	CU_ASSERT_EQUAL(usbtmc_in_feed(&st, pkt, 16, out, 8, &err), KGD_ERR_PROTOCOL);
	CU_ASSERT_STRING_EQUAL(err.msg, "usbtmc: device announced 10 bytes, asked for at most 8");

	/* Nothing at all, or a foreign MsgID in the first packet. */
	usbtmc_in_begin(&st, 3);
	CU_ASSERT_EQUAL(usbtmc_in_finish(&st, &err), KGD_ERR_PROTOCOL);
	pkt[0] = 1;
	CU_ASSERT_EQUAL(usbtmc_in_feed(&st, pkt, 16, out, sizeof(out), &err), KGD_ERR_PROTOCOL);
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("usbtmc", NULL, NULL);

	if (!s)
		return -1;
	CU_add_test(s, "DEV_DEP_MSG_OUT header bytes", test_out_header_bytes);
	CU_add_test(s, "OUT padding, sizes, EOM, refusals", test_out_sizes_and_attrs);
	CU_add_test(s, "REQUEST_DEV_DEP_MSG_IN bytes", test_request_in_bytes);
	CU_add_test(s, "bTag wraps 255 -> 1, never 0", test_btag_wrap);
	CU_add_test(s, "bulk-IN header: MsgID, bTag, ~bTag", test_parse_in_header);
	CU_add_test(s, "single-packet reply, padding dropped", test_in_single_transfer);
	CU_add_test(s, "reply split over two USB reads", test_in_split_transfer);
	CU_add_test(s, "short transfer and oversize reply", test_in_short_and_oversize);
	return 0;
}
