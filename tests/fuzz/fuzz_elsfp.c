/*
 * tests/fuzz/fuzz_elsfp.c - libFuzzer target for the ELSFP USB-I2C
 * adapter's replies (plugins/elsfp-cmis/protocol.c, compiled in through its
 * internal header): the hex data bytes of a read ("OK 0A 1B ..."), the
 * adapter match on an *IDN? identity (its table through drv_std_match),
 * and the 16-bit register decoding.
 *
 * Invariants checked besides the sanitizers: the parser never writes more
 * than the bytes asked for (the buffer is exactly that long, so ASan
 * catches an overrun), and accepted bytes print back to text the parser
 * accepts with the same bytes.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, again[3 * 256 + 1];
	uint8_t *out, back[256];
	int max, n;

	if (size < 1)
		return 0;
	/* The first byte picks how many bytes the read asked for (1..256). */
	max = data[0] + 1;
	s = malloc(size);
	out = malloc((size_t)max);
	if (!s || !out)
		goto out;
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	n = elsfp_parse_hex(s, max, out);
	if (n > max)
		abort();
	if (n > 0) {
		for (int i = 0; i < n; i++)
			snprintf(again + 3 * i, 4, "%02X ", out[i]);
		if (elsfp_parse_hex(again, n, back) != n || memcmp(back, out, (size_t)n))
			abort();
		for (int i = 0; i + 1 < n; i += 2)
			(void)elsfp_u16(out, i / 2);
	}
	drv_std_match(&elsfp_info, s);
out:
	free(s);
	free(out);
	return 0;
}
