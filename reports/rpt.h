/*
 * reports/rpt.h - CSV yield reports for analysts, read from the results
 * database alone (never from instruments or sequence files).
 *
 * Every CSV is written through libcsv's writer: a header row, RFC 4180
 * quoting, numbers printed with full precision in the C locale, so the same
 * database gives the same bytes and a spreadsheet opens it without options.
 * A report is written to a temporary file and renamed into place, so a
 * failed report never leaves half a file.
 *
 * Format details, the same for every report:
 *  - Lines end in "\n" (pandas, spreadsheets and Unix tools all read it).
 *  - A field is quoted (by libcsv, doubling inner quotes) only when it holds
 *    a comma, a double quote, CR or LF; everything else is written bare, so
 *    numbers stay numbers.
 *  - Reals use the shortest form that reads back to the same double (at
 *    most 17 significant digits, "%.17g" style), counts are integers,
 *    percentages "%.2f"; always '.' as decimal point, whatever the locale.
 *  - An empty cell means "no value" (no limit, no valid value, too few
 *    values for a statistic).
 *  - Rows are sorted by their key columns in byte order.
 *
 * The final-verdict rule: a part may have been tested several times (a
 * retest after a contact problem). Its final verdict is its LATEST run, the
 * run written last (highest run id; runs are committed one at a time, so
 * this is the order they were written, independent of station clocks).
 * Earlier runs are history and count in no report below.
 *
 * The database is opened read-only and never created: a missing file is
 * KGD_ERR_NOT_FOUND, a file that is not a station database KGD_ERR_DB, one
 * from a newer station KGD_ERR_UNSUPPORTED, each naming the file; an
 * output that cannot be written is KGD_ERR_IO naming it. A database with
 * no runs gives a CSV with only the header row, and KGD_OK.
 */
#ifndef KGD_RPT_H
#define KGD_RPT_H

#include "kgd/status.h"

/* yield.csv: lot,tested,passed,failed,yield_pct - one row per lot with at
 * least one run. tested = parts with a final verdict; passed = those whose
 * final run passed; failed = tested - passed (fail, error and aborted alike:
 * a part that errored is not known good); yield_pct = 100 * passed /
 * tested. */
int rpt_yield_csv(const char *db_path, const char *out_path, kgd_err *err);

/* tests.csv: step,unit,low,high,n,n_pass,n_fail,n_invalid,mean,stdev,min,max
 * - one row per step, unit and limits applied (a step whose limits changed
 * between sequence versions gets one row per limit pair, so the statistics
 * always belong to one pair of limits). Only final runs count. n counts all
 * measurements, n_invalid those without a valid value; mean, sample stdev
 * (n-1), min and max are over the valid values. */
int rpt_tests_csv(const char *db_path, const char *out_path, kgd_err *err);

#endif
