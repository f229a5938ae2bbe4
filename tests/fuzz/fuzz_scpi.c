/*
 * tests/fuzz/fuzz_scpi.c - libFuzzer target for the SCPI reply parsers:
 * numbers (with the no-valid-value rules), SYST:ERR? replies and IEEE 488.2
 * definite-length blocks. These parse whatever an instrument sends, so any
 * byte string must give a status, never a crash or an out-of-bounds read.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kgd/scpi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* The text parsers take NUL-terminated replies, as xport_read_line
	 * delivers them. */
	char *s = malloc(size + 1);
	char text[64];
	const char *block;
	size_t hdr, len;
	double d;
	long l;
	int code;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	scpi_parse_double(s, &d, NULL);
	scpi_parse_long(s, &l, NULL);
	scpi_parse_error(s, &code, text, sizeof(text), NULL);
	free(s);

	/* Blocks are binary: give the parser exactly the bytes, no NUL, so
	 * ASan catches any read past them. */
	s = malloc(size ? size : 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	if (scpi_parse_block_header(s, size, &hdr, &len, NULL) == KGD_OK &&
	    (hdr > size || hdr == 0))
		abort();   /* a header longer than its input is a parser bug */
	if (scpi_parse_block(s, size, &block, &len, NULL) == KGD_OK &&
	    (block < s || block + len > s + size))
		abort();   /* the payload must lie inside the input */
	free(s);
	return 0;
}
