/*
 * tests/test_report_set.c - `station report` interrupted (issue 19, item
 * 9), through the real binary on a real results database (a demo lot of
 * four TeraPHY wafers).
 *
 * The folder starts with a complete "old" set (the report of one wafer);
 * the report of all four wafers is the "new" set, written once into a
 * folder of its own as the reference. Whatever stops the report - SIGKILL
 * just after its first new file appears, SIGKILL at any moment, a write
 * that cannot be put in place - the folder must hold the old set byte for
 * byte or the new set byte for byte, never a mix; where its manifest
 * (report.sha256) is present, `sha256sum -c` passes on it, and where it
 * is absent the folder is the incomplete one. The next report completes
 * it and clears what the killed one left.
 */
#include <CUnit/CUnit.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define STATION KGD_BIN_DIR "/station"
#define MAX_FILES 64

static char dir[512], db[800], out_dir[700], ref_dir[700];
static char out[65536], errbuf[65536];

/* The regular files directly in a folder (hidden ones aside), with their
 * bytes and inode. */
typedef struct snap {
	int n;
	char name[MAX_FILES][256];
	char *bytes[MAX_FILES];
	size_t len[MAX_FILES];
	ino_t ino[MAX_FILES];
} snap;

static snap old_set, new_set;

static void snap_free(snap *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->bytes[i]);
	memset(s, 0, sizeof(*s));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void snap_take(snap *s, const char *folder)
{
	DIR *d = opendir(folder);
	struct dirent *de;

	memset(s, 0, sizeof(*s));
	if (!d)
		return;
	while ((de = readdir(d)) && s->n < MAX_FILES) {
		char path[1024];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", folder, de->d_name);
		if (de->d_name[0] == '.' || lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		snprintf(s->name[s->n], sizeof(s->name[0]), "%.255s", de->d_name);
		s->n++;
	}
	closedir(d);
	qsort(s->name, (size_t)s->n, sizeof(s->name[0]), cmp_str);
	for (int i = 0; i < s->n; i++) {
		char path[1024];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", folder, s->name[i]);
		s->bytes[i] = tu_slurp(path, &s->len[i]);
		s->ino[i] = stat(path, &st) == 0 ? st.st_ino : 0;
	}
}

/* Same names, same bytes. */
static int snap_equal(const snap *a, const snap *b)
{
	if (a->n != b->n)
		return 0;
	for (int i = 0; i < a->n; i++)
		if (strcmp(a->name[i], b->name[i]) != 0 || a->len[i] != b->len[i] ||
		    !a->bytes[i] || !b->bytes[i] ||
		    memcmp(a->bytes[i], b->bytes[i], a->len[i]) != 0)
			return 0;
	return 1;
}

static void snap_print(const char *what, const snap *s)
{
	fprintf(stderr, "\n  %s:", what);
	for (int i = 0; i < s->n; i++)
		fprintf(stderr, " %s", s->name[i]);
	fprintf(stderr, "\n");
}

static int run_report(const char *folder, const char *wafer)
{
	char *all[] = {STATION, "report", "--db", db, "--out", (char *)folder,
		       "--quiet", NULL};
	char *one[] = {STATION, "report", "--db", db, "--out", (char *)folder,
		       "--wafer", (char *)wafer, "--quiet", NULL};
	int rc = tu_run(wafer ? one : all, out, sizeof(out), errbuf,
			sizeof(errbuf), 120);

	if (rc != 0)
		fprintf(stderr, "\n  report into %s: exit %d\n%s", folder, rc, errbuf);
	return rc;
}

/* `sha256sum -c --strict` of the folder's manifest: 0 when it passes,
 * -2 when there is no manifest. */
static int manifest_check(const char *folder)
{
	char path[1024], cmd[1200];
	char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	struct stat st;

	snprintf(path, sizeof(path), "%s/report.sha256", folder);
	if (stat(path, &st) != 0)
		return -2;
	snprintf(cmd, sizeof(cmd), "cd '%s' && sha256sum -c --strict --quiet "
		 "report.sha256", folder);
	return tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 30);
}

/* Files named *.tmp directly in folder. */
static int tmp_files(const char *folder)
{
	DIR *d = opendir(folder);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d))) {
		size_t len = strlen(de->d_name);

		n += len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0;
	}
	if (d)
		closedir(d);
	return n;
}

static int has_hidden(const char *folder)
{
	DIR *d = opendir(folder);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		if (de->d_name[0] == '.' && strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	if (d)
		closedir(d);
	return n;
}

static int suite_init(void)
{
	char demo[600];
	char *argv[] = {STATION, "demo", "--product", "teraphy", "--wafers", "4",
			"--out", demo, "--quiet", NULL};
	int rc;

	snprintf(dir, sizeof(dir), "%s", tu_mkdtemp("report-set"));
	snprintf(demo, sizeof(demo), "%s/demo", dir);
	snprintf(db, sizeof(db), "%s/results.db", demo);
	snprintf(out_dir, sizeof(out_dir), "%s/out", dir);
	snprintf(ref_dir, sizeof(ref_dir), "%s/ref", dir);
	rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 240);
	if (rc != 0) {
		fprintf(stderr, "demo: exit %d\n%s", rc, errbuf);
		return -1;
	}
	/* The reference new set, and the old set it replaces. */
	if (run_report(ref_dir, NULL) || run_report(out_dir, "DEMO1-W01"))
		return -1;
	snap_take(&new_set, ref_dir);
	snap_take(&old_set, out_dir);
	return snap_equal(&new_set, &old_set) || new_set.n < 9 ? -1 : 0;
}

static int suite_clean(void)
{
	snap_free(&old_set);
	snap_free(&new_set);
	tu_rmtree(dir);
	return 0;
}

/* Put the old set back into out_dir (a fresh folder); its files' inodes
 * are what new_file_appeared() compares with. */
static void restore_old(void)
{
	snap now;

	tu_rmtree(out_dir);
	CU_ASSERT_EQUAL_FATAL(run_report(out_dir, "DEMO1-W01"), 0);
	snap_take(&now, out_dir);
	CU_ASSERT_TRUE_FATAL(snap_equal(&now, &old_set));
	for (int i = 0; i < now.n; i++)
		old_set.ino[i] = now.ino[i];
	snap_free(&now);
}

/* A complete report file of the new set has appeared somewhere in folder
 * (directly, or in a folder inside it): a name or inode the old set did
 * not have; a writer's NAME.tmp does not count. */
static int new_file_appeared(const char *folder, int depth)
{
	DIR *d = opendir(folder);
	struct dirent *de;
	int found = 0;

	while (d && !found && (de = readdir(d))) {
		char path[1024];
		size_t len = strlen(de->d_name);
		struct stat st;
		int known = 0;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", folder, de->d_name);
		if (lstat(path, &st) != 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			found = depth == 0 && new_file_appeared(path, 1);
			continue;
		}
		if (!S_ISREG(st.st_mode) || (len > 4 && strcmp(de->d_name + len - 4,
							       ".tmp") == 0))
			continue;
		for (int i = 0; i < old_set.n && !known; i++)
			known = depth == 0 && strcmp(old_set.name[i], de->d_name) == 0 &&
				old_set.ino[i] == st.st_ino;
		found = !known;
	}
	if (d)
		closedir(d);
	return found;
}

/* The folder after a report stopped: "old", "new", or "mix". */
static const char *which_set(const char *folder)
{
	snap now;
	const char *which;

	snap_take(&now, folder);
	which = snap_equal(&now, &old_set) ? "old" : snap_equal(&now, &new_set)
		? "new" : "mix";
	if (strcmp(which, "mix") == 0) {
		snap_print("neither the old nor the new set; the folder holds", &now);
		snap_print("old set", &old_set);
		snap_print("new set", &new_set);
	}
	snap_free(&now);
	return which;
}

/* The next report completes the set and leaves nothing of the killed one. */
static void check_rerun(void)
{
	CU_ASSERT_EQUAL(run_report(out_dir, NULL), 0);
	CU_ASSERT_STRING_EQUAL(which_set(out_dir), "new");
	CU_ASSERT_EQUAL(manifest_check(out_dir), 0);
	CU_ASSERT_EQUAL(has_hidden(out_dir), 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* SIGKILL as soon as the first file of the new set exists. */
static void test_kill_after_first_file(void)
{
	char *argv[] = {STATION, "report", "--db", db, "--out", out_dir,
			"--quiet", NULL};
	const char *which;
	double t0;
	int pid, status, seen = 0;

	restore_old();
	pid = tu_spawn(argv, NULL, NULL, NULL);
	CU_ASSERT_TRUE_FATAL(pid > 0);
	for (t0 = now_s(); now_s() - t0 < 60 && !seen; ) {
		seen = new_file_appeared(out_dir, 0);
		if (!seen)
			usleep(200);
	}
	kill(pid, SIGKILL);
	status = tu_wait(pid, 30);
	CU_ASSERT_TRUE(seen);
	/* Killed mid-way, not after it had finished. */
	CU_ASSERT_EQUAL(status, 128 + SIGKILL);
	which = which_set(out_dir);
	CU_ASSERT_STRING_EQUAL(which, "old");
	/* A reader tells the set by its manifest, which holds. */
	CU_ASSERT_EQUAL(manifest_check(out_dir), 0);
	CU_ASSERT_EQUAL(tmp_files(out_dir), 0);
	check_rerun();
}

/* SIGKILL at moments spread over the whole report, swap included. */
static void test_kill_anywhere(void)
{
	char *argv[] = {STATION, "report", "--db", db, "--out", out_dir,
			"--quiet", NULL};
	int counts[3] = {0, 0, 0};   /* old, new, incomplete (no manifest) */
	double t_full;

	restore_old();
	t_full = now_s();
	CU_ASSERT_EQUAL_FATAL(run_report(out_dir, NULL), 0);
	t_full = now_s() - t_full;
	for (int k = 0; k < 12; k++) {
		double at = t_full * (0.1 + 1.4 * k / 11.0);
		const char *which;
		int pid, m;

		restore_old();
		pid = tu_spawn(argv, NULL, NULL, NULL);
		CU_ASSERT_TRUE_FATAL(pid > 0);
		usleep((useconds_t)(at * 1e6));
		kill(pid, SIGKILL);
		tu_wait(pid, 30);
		m = manifest_check(out_dir);
		which = which_set(out_dir);
		/* Never half a file in the folder itself. */
		CU_ASSERT_EQUAL(tmp_files(out_dir), 0);
		if (m == -2) {
			/* Killed between the old manifest's removal and the
			 * new one's arrival: the folder says incomplete. */
			counts[2]++;
		} else {
			/* A manifest is there: it holds, and the folder is one
			 * whole set. */
			CU_ASSERT_EQUAL(m, 0);
			CU_ASSERT_STRING_NOT_EQUAL(which, "mix");
			counts[strcmp(which, "new") == 0]++;
		}
	}
	fprintf(stderr, "(old %d, new %d, incomplete %d) ", counts[0], counts[1],
		counts[2]);
	CU_ASSERT_TRUE(counts[0] > 0);
	check_rerun();
}

/* A file that cannot be put in place half-way through the set (a folder
 * in the way of the last wafer map: on a real floor a full disk or a
 * quota; RLIMIT_FSIZE cannot stand in here, since SQLite's own temporary
 * file for the report's sort outgrows any limit parts.csv would hit): exit
 * 1 naming it, the old set untouched, no stage left. */
static void test_failed_write(void)
{
	char blocker[1200], want[1400];
	char *argv[] = {STATION, "report", "--db", db, "--out", out_dir,
			"--quiet", NULL};
	int rc;

	restore_old();
	snprintf(blocker, sizeof(blocker), "%s/wafermap_DEMO1_DEMO1-W04.svg",
		 out_dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(blocker, 0755), 0);
	rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 120);
	CU_ASSERT_EQUAL(rc, 1);
	snprintf(want, sizeof(want), "station: %s: Is a directory (the "
		 "folder's report set is unchanged)\n", blocker);
	CU_ASSERT_STRING_EQUAL(errbuf, want);
	CU_ASSERT_STRING_EQUAL(which_set(out_dir), "old");
	CU_ASSERT_EQUAL(manifest_check(out_dir), 0);
	CU_ASSERT_EQUAL(has_hidden(out_dir), 0);
	CU_ASSERT_EQUAL(rmdir(blocker), 0);
	check_rerun();
}

/* One folder for CSV and STDF, and files that are not the report's: each
 * set has its manifest, a smaller report removes only its own old files. */
static void test_shared_folder(void)
{
	char shared[700], path[1200], cmd[1500];
	char *both[] = {STATION, "report", "--db", db, "--out", shared, "--stdf",
			shared, "--quiet", NULL};
	char *check[] = {"/bin/sh", "-c", cmd, NULL};
	FILE *f;

	snprintf(shared, sizeof(shared), "%s/shared", dir);
	CU_ASSERT_EQUAL_FATAL(mkdir(shared, 0755), 0);
	snprintf(path, sizeof(path), "%s/notes.txt", shared);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fputs("the analyst's own file\n", f);
	fclose(f);
	CU_ASSERT_EQUAL(tu_run(both, out, sizeof(out), errbuf, sizeof(errbuf),
			       120), 0);
	snprintf(cmd, sizeof(cmd), "cd '%s' && sha256sum -c --strict --quiet "
		 "report.sha256 stdf.sha256 && test -f wafermap_DEMO1_DEMO1-W04.svg"
		 " && test -f DEMO1_DEMO1-W04.stdf && test -f notes.txt", shared);
	CU_ASSERT_EQUAL(tu_run(check, out, sizeof(out), errbuf, sizeof(errbuf),
			       30), 0);
	/* One wafer's CSVs: the other wafers' maps go (they were the old
	 * set's), the STDF set and notes.txt stay. */
	CU_ASSERT_EQUAL(run_report(shared, "DEMO1-W01"), 0);
	snprintf(cmd, sizeof(cmd), "cd '%s' && sha256sum -c --strict --quiet "
		 "report.sha256 stdf.sha256 && ! test -e wafermap_DEMO1_DEMO1-W04.svg"
		 " && test -f wafermap_DEMO1_DEMO1-W01.svg && test -f "
		 "DEMO1_DEMO1-W04.stdf && test -f notes.txt && test \"$(wc -l < "
		 "stdf.sha256)\" = 4", shared);
	CU_ASSERT_EQUAL(tu_run(check, out, sizeof(out), errbuf, sizeof(errbuf),
			       30), 0);
}

/* Two reports into one folder at once: the second is refused, not mixed
 * in. */
static void test_one_report_at_a_time(void)
{
	char *argv[] = {STATION, "report", "--db", db, "--out", out_dir,
			"--quiet", NULL};
	char want[1024];
	double t0;
	int pid, rc;

	restore_old();
	pid = tu_spawn(argv, NULL, NULL, NULL);
	CU_ASSERT_TRUE_FATAL(pid > 0);
	for (t0 = now_s(); now_s() - t0 < 10 && !has_hidden(out_dir); )
		usleep(200);
	rc = tu_run(argv, out, sizeof(out), errbuf, sizeof(errbuf), 60);
	CU_ASSERT_EQUAL(tu_wait(pid, 60), 0);
	CU_ASSERT_EQUAL(rc, 1);
	snprintf(want, sizeof(want), "station: %s: another station report is "
		 "writing into this folder\n", out_dir);
	CU_ASSERT_STRING_EQUAL(errbuf, want);
	CU_ASSERT_STRING_EQUAL(which_set(out_dir), "new");
}

int cu_register(void)
{
	CU_pSuite s = CU_add_suite("report set", suite_init, suite_clean);

	CU_add_test(s, "SIGKILL after the first new file", test_kill_after_first_file);
	CU_add_test(s, "SIGKILL at any moment", test_kill_anywhere);
	CU_add_test(s, "a file that cannot be put in place", test_failed_write);
	CU_add_test(s, "CSV and STDF sets in one folder", test_shared_folder);
	CU_add_test(s, "one report per folder at a time", test_one_report_at_a_time);
	return 0;
}
