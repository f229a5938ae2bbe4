/*
 * station/screen_cli.h - run a screen and print it; shared by
 * `station screen` and `station demo`.
 */
#ifndef KGD_SCREEN_CLI_H
#define KGD_SCREEN_CLI_H

#include "scr.h"

/* Screen lot of db_path (which must exist) with the config file; prints
 * problems and, with verbose, the result. Returns a CLI exit code; sum
 * (may be NULL) gets what the screen did. */
int screen_cli(const char *db_path, const char *lot, const char *config,
	       int verbose, scr_summary *sum);

#endif
