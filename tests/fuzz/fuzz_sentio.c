/*
 * tests/fuzz/fuzz_sentio.c - libFuzzer target for the MPI SENTIO prober's
 * reply parsers (plugins/mpi-sentio/protocol.c, compiled in through its
 * internal header, not through the plugin's ABI): the "<code>,<cmdId>,
 * <message>" reply line, the "<col>,<row>[,<site>]" die position in a step
 * reply, and the model match on an *IDN? identity. Whatever a prober sends,
 * the parsers must give a status, never a crash or an out-of-bounds access.
 *
 * Invariants checked besides the sanitizers: a parsed message is a
 * NUL-terminated suffix-copy no longer than the buffer; a die accepted by
 * sentio_parse_die prints back to a line the parser accepts with the same
 * values.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char msg[64], again[64];
	long code, id;
	int col, row, site, c2, r2, s2;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (sentio_parse_reply(s, &code, &id, msg, sizeof(msg)) == 0 &&
	    strlen(msg) >= sizeof(msg))
		abort();
	sentio_parse_reply(s, &code, &id, NULL, 0);
	if (sentio_parse_die(s, &col, &row, &site) == 0) {
		snprintf(again, sizeof(again), "%d,%d,%d", col, row, site);
		if (sentio_parse_die(again, &c2, &r2, &s2) != 0 || c2 != col ||
		    r2 != row || s2 != site)
			abort();
	}
	sentio_parse_die(s, &col, &row, NULL);
	if (!sentio_match_idn(s))
		abort();
	free(s);
	return 0;
}
