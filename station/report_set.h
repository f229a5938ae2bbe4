/*
 * station/report_set.h - a report folder holds one complete set of
 * reports, or says that it does not (docs/REPORTS.md, "A complete set").
 *
 * `station report` writes its files (reports/, each whole or not at all)
 * into a stage folder inside the output folder, ".<set>.new", while the
 * set already there stays untouched. Only when every file is written does
 * rset_commit() swap the set in, with nothing left to compute:
 *   1. write the manifest <set>.sha256 into the stage (sha256sum's format,
 *      one line per file, files fsync'ed first);
 *   2. remove the old manifest - from here the folder says "incomplete";
 *   3. rename each new file into the folder, remove the files of the old
 *      set (its manifest's) that the new set does not have;
 *   4. rename the manifest into the folder, last; remove the stage.
 * So at every moment, whatever kills the station: the manifest is there
 * and lists exactly the files of one complete set (the old one until step
 * 2, the new one after step 4, `sha256sum -c <set>.sha256` passes), or it
 * is missing and the folder is incomplete (between 2 and 4, a few renames).
 * A stage left by a killed report is removed by the next one. Files not in
 * a manifest (the demo's results.db, anything of the user's) are never
 * touched. The files' bytes are the writers'; nothing is added to them.
 *
 * One report at a time per folder: the folder is flock'ed for the call,
 * and a second report into it is refused, not interleaved.
 */
#ifndef KGD_REPORT_SET_H
#define KGD_REPORT_SET_H

#include "kgd/status.h"

typedef struct rset {
	int dirfd;              /* the output folder, locked; -1 when closed */
	const char *dir;        /* borrowed, for messages and paths */
	const char *manifest;   /* "report.sha256" */
	char stage_name[64];    /* ".report.new" */
	char *stage;            /* "<dir>/.report.new": give this to rpt_write */
	int files;              /* files in the set committed */
} rset;

/* Lock dir (which must exist), clear a stage a killed report left, and
 * make an empty one; the set is named by its manifest, "report.sha256"
 * (CSV and wafer maps) or "stdf.sha256" (STDF), so both can share a
 * folder. On error nothing is left to release. */
int rset_begin(rset *s, const char *dir, const char *manifest, kgd_err *err);

/* Swap the stage's files in as the folder's set (steps 1-4 above). */
int rset_commit(rset *s, kgd_err *err);

/* Remove the stage if it is still there (a failed report: the folder's set
 * is as it was) and unlock. Safe after a failed rset_begin. */
void rset_end(rset *s);

#endif
