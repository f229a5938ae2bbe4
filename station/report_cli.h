/*
 * station/report_cli.h - write the standard report set; shared by
 * `station report` and `station demo`.
 */
#ifndef KGD_REPORT_CLI_H
#define KGD_REPORT_CLI_H

#include "rpt.h"

/* Write every CSV report and wafer map for db_path into out_dir (created if
 * missing), no filter, final runs. Returns a CLI exit code; with verbose,
 * prints each file written. */
int report_cli(const char *db_path, const char *out_dir, int verbose);

/* The same with filters (opt may be NULL); out_dir NULL writes no CSV,
 * stdf_dir non-NULL also writes one STDF V4 file per wafer there. */
int report_cli_opts(const char *db_path, const char *out_dir,
		    const char *stdf_dir, const rpt_options *opt, int verbose);

/* The same, and with html also report.html in out_dir's set. */
int report_cli_html(const char *db_path, const char *out_dir,
		    const char *stdf_dir, const rpt_options *opt, int html,
		    int verbose);

/* The same from the central PostgreSQL server at target (cmd_sync.c):
 * the parts opt selects are pulled into a scratch station file, which the
 * same code reports on, then removed. */
int sync_report_from_db(const char *target, const char *out_dir,
			const char *stdf_dir, const rpt_options *opt,
			unsigned which, int verbose);

/* The same as report_cli_html with rpt_write's bits for the set at
 * out_dir (RPT_ALL_CSV, with RPT_HTML, or those `--only` names). */
int report_cli_which(const char *db_path, const char *out_dir,
		     const char *stdf_dir, const rpt_options *opt,
		     unsigned which, int verbose);

#endif
