/*
 * station/report_cli.h - write the standard report set; shared by
 * `station report` and `station demo`.
 */
#ifndef KGD_REPORT_CLI_H
#define KGD_REPORT_CLI_H

/* Write every report for db_path into out_dir (created if missing).
 * Returns a CLI exit code; with verbose, prints each file written. */
int report_cli(const char *db_path, const char *out_dir, int verbose);

#endif
