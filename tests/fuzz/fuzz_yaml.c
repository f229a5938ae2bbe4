/*
 * tests/fuzz/fuzz_yaml.c - libFuzzer target for the YAML loaders a test
 * engineer's files go through: the sequence loader (with its full
 * validation) and the station-config loader. They take a path, so each
 * input is written to a file in /dev/shm (memory) first.
 *
 * Invariant checked beyond "no crash": a rejected file gets a message that
 * starts with its path, as every error the station prints must.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cfg.h"
#include "seq.h"

static char path[64];

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
	else if (strncmp(err.msg, path, strlen(path)) != 0)
		abort();
	seq_check(path, count_problem, &problems, &err);
	if (cfg_load(path, &c, &err) == KGD_OK)
		cfg_free(c);
	else if (strncmp(err.msg, path, strlen(path)) != 0)
		abort();
	unlink(path);
	return 0;
}
