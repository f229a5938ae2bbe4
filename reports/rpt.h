/*
 * reports/rpt.h - CSV yield reports for analysts, read from the results
 * database alone (never from instruments or sequence files).
 *
 * Every CSV is written through libcsv's writer: a header row, RFC 4180
 * quoting, numbers printed with full precision in the C locale, so the same
 * database gives the same bytes and a spreadsheet opens it without options.
 * A report is written to a temporary file and renamed into place, so a
 * failed report never leaves half a file.
 */
#ifndef KGD_RPT_H
#define KGD_RPT_H

#include "kgd/status.h"

/* yield.csv: lot, tested, passed, yield_pct (one row per lot). */
int rpt_yield_csv(const char *db_path, const char *out_path, kgd_err *err);

/* tests.csv: per step and unit: n, pass, fail, mean, stdev, min, max, low,
 * high. */
int rpt_tests_csv(const char *db_path, const char *out_path, kgd_err *err);

#endif
