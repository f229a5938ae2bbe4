/*
 * tests/fuzz/fuzz_yaml.c - libFuzzer target for the YAML loaders a test
 * engineer's files go through: the sequence loader (with its full
 * validation) and the station-config loader. They take a path, so each
 * input is written to a file in /dev/shm (memory) first.
 *
 * Invariant checked beyond "no crash": a rejected file gets a message that
 * names it, as every error the station prints must. The message starts
 * with its path, or - for a problem inside a file it includes - with the
 * included file's path and ends with the include chain back to it:
 * "lib.yaml:1:1: ... (included from <path>:1:11)" (seq_include.c).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "seq.h"

static char path[64];

/* 1 when msg names path as described above. */
static int names_file(const char *msg, const char *file)
{
	char tail[96];
	const char *at;
	size_t n = strlen(msg);

	if (strncmp(msg, file, strlen(file)) == 0)
		return 1;
	if (n == 0 || msg[n - 1] != ')')
		return 0;
	snprintf(tail, sizeof(tail), "from %s:", file);
	at = strstr(msg, tail);
	/* the includer must be the chain's last link: nothing after its :L:C) */
	return at && strchr(at + strlen(tail), ',') == NULL;
}

static void count_problem(void *user, const char *msg)
{
	(void)msg;
	(*(int *)user)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	seq_sequence *s = NULL;
	cfg_station *c = NULL;
	kgd_err err;
	FILE *f;
	int problems = 0;

	if (!path[0])
		snprintf(path, sizeof(path), "/dev/shm/kgd-fuzz-yaml-%d.yaml",
			 (int)getpid());
	f = fopen(path, "wb");
	if (!f)
		return 0;
	fwrite(data, 1, size, f);
	fclose(f);

	if (seq_load(path, &s, &err) == KGD_OK)
		seq_free(s);
	else if (!names_file(err.msg, path))
		abort();
	seq_check(path, count_problem, &problems, &err);
	if (cfg_load(path, &c, &err) == KGD_OK)
		cfg_free(c);
	else if (strncmp(err.msg, path, strlen(path)) != 0)
		abort();
	unlink(path);
	return 0;
}
