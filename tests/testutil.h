/*
 * tests/testutil.h - small helpers shared by the test programs: scratch
 * folders and running a real program with a time limit.
 */
#ifndef KGD_TESTUTIL_H
#define KGD_TESTUTIL_H

#include <stddef.h>

/* Create a fresh scratch folder under $TMPDIR (or /tmp); returns a static
 * buffer valid until the next call. Aborts the test program on failure. */
const char *tu_mkdtemp(const char *tag);

/* Remove a folder tree made by tu_mkdtemp (best effort). */
void tu_rmtree(const char *path);

/* Run argv[0] with argv, capture stdout and stderr (each truncated to cap-1
 * bytes, NUL-terminated; either buffer may be NULL), kill it after
 * timeout_s seconds. Returns the exit status, 128+signal if it died of a
 * signal, or -1 if it could not be started or was killed on timeout. */
int tu_run(char *const argv[], char *out, size_t out_cap, char *errbuf,
	   size_t err_cap, int timeout_s);

/* Read a whole file into a malloc'ed NUL-terminated buffer, or NULL. */
char *tu_slurp(const char *path, size_t *len);

#endif
