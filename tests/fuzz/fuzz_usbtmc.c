/*
 * tests/fuzz/fuzz_usbtmc.c - libFuzzer target for USBTMC bulk-IN parsing:
 * the header check and the reassembly of a reply split over several USB
 * reads. The first input byte is the bTag the request used, the second how
 * the rest is cut into reads; a device may send anything.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "usbtmc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t out[256];
	struct usbtmc_in st;
	uint32_t transfer;
	size_t chunk, off;
	int eom;

	if (size < 2)
		return 0;
	usbtmc_parse_in_header(data + 2, size - 2, data[0], &transfer, &eom, NULL);

	usbtmc_in_begin(&st, data[0]);
	chunk = (size_t)(data[1] % 64) + 1;
	for (off = 2; off < size && !usbtmc_in_done(&st); off += chunk) {
		size_t n = size - off < chunk ? size - off : chunk;

		if (usbtmc_in_feed(&st, data + off, n, out, sizeof(out), NULL))
			break;
		if (st.got > sizeof(out))
			abort();   /* payload written past the caller's buffer */
	}
	usbtmc_in_finish(&st, NULL);
	return 0;
}
