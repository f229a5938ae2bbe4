/*
 * station/plugin.c - dlopen-based driver loading (see plugin.h).
 *
 * Validation happens here, once, so the sequencer may call any required
 * operation of a loaded plugin without checking for NULL; and trust is
 * checked here, before dlopen, so a file anyone could have written never
 * runs a line of code in the station (its constructors included).
 */
#include "plugin.h"

#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef KGD_PLUGIN_BUILD_DIR
#define KGD_PLUGIN_BUILD_DIR "plugins"
#endif
/* The installed plugin folder, relative to the folder of the running
 * program (the install's bin/): the tree may be installed or moved
 * anywhere, so nothing absolute is compiled in (issue 21). */
#ifndef KGD_BIN_TO_PLUGINS
#define KGD_BIN_TO_PLUGINS "../lib/kgd-station/plugins"
#endif

int drv_name_valid(const char *name)
{
	size_t n = 0;

	if (!name || !*name)
		return 0;
	for (; name[n]; n++)
		if (!((name[n] >= 'a' && name[n] <= 'z') ||
		      (name[n] >= '0' && name[n] <= '9') || name[n] == '-'))
			return 0;
	return n <= DRV_NAME_MAX;
}

int drv_plugin_build_tree(void)
{
#ifdef KGD_BUILD_BIN_DIR
	static int known = -1;
	char exe[PATH_MAX], bin[PATH_MAX];
	ssize_t n;
	char *slash;

	if (known >= 0)
		return known;
	known = 0;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0 || !realpath(KGD_BUILD_BIN_DIR, bin))
		return known;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (slash) {
		*slash = '\0';
		known = strcmp(exe, bin) == 0;
	}
	return known;
#else
	return 0;
#endif
}

const char *drv_plugin_installed_dir(void)
{
	static char dir[PATH_MAX];
	char exe[PATH_MAX], joined[PATH_MAX];
	ssize_t n;
	char *slash;

	if (dir[0])
		return dir;
	/* /proc/self/exe is the program's file with every link resolved, so
	 * a symlink to bin/station in /usr/local/bin still finds the tree it
	 * belongs to. Without it, a relative folder: locate refuses it. */
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	slash = NULL;
	if (n > 0) {
		exe[n] = '\0';
		slash = strrchr(exe, '/');
	}
	if (!slash) {
		snprintf(dir, sizeof(dir), "%s", KGD_BIN_TO_PLUGINS);
		return dir;
	}
	*slash = '\0';
	if (snprintf(joined, sizeof(joined), "%s/%s", exe, KGD_BIN_TO_PLUGINS) >=
	    (int)sizeof(joined))
		joined[0] = '\0';   /* too long a path: no folder, "not found" */
	/* Shown to people and recorded with sessions: without "bin/..". A
	 * folder that is not there stays as joined, and is reported so. */
	if (!realpath(joined, dir))
		snprintf(dir, sizeof(dir), "%s", joined);
	return dir;
}

size_t drv_plugin_dirs(const char *const *extra, size_t n_extra,
		       const char **dirs, size_t max_dirs)
{
	/* $KGD_PLUGIN_PATH is split into a static copy: the returned pointers
	 * must outlive this call. */
	static char env_copy[4096];
	const char *env = getenv("KGD_PLUGIN_PATH");
	int build = drv_plugin_build_tree();
	size_t n = 0;

	if (n < max_dirs)
		dirs[n++] = build ? KGD_PLUGIN_BUILD_DIR : drv_plugin_installed_dir();
	for (size_t i = 0; i < n_extra && n < max_dirs; i++)
		dirs[n++] = extra[i];
	if (build && env && *env && strlen(env) < sizeof(env_copy)) {
		char *save = NULL, *tok;

		strcpy(env_copy, env);
		for (tok = strtok_r(env_copy, ":", &save); tok && n < max_dirs;
		     tok = strtok_r(NULL, ":", &save))
			dirs[n++] = tok;
	}
	return n;
}

/* ---- trust ---------------------------------------------------------------- */

static int owner_ok(uid_t uid)
{
	return uid == 0 || uid == geteuid();
}

/* One folder on the way to a plugin: the plugin's own (`own`: no one but
 * its owner may write it, or a new <driver>.so could appear in it) or one
 * above (writable by others only with the sticky bit, which keeps them
 * from renaming what is not theirs). */
static int trust_dir(const char *shown, const char *dir, int own, kgd_err *err)
{
	struct stat st;

	if (stat(dir, &st) != 0)
		return kgd_err_set(err, KGD_ERR_IO, "%s: refused: folder %s: %s",
				   shown, dir, strerror(errno));
	if (!owner_ok(st.st_uid))
		return kgd_err_set(err, KGD_ERR_ABI, "%s: refused: folder %s "
				   "belongs to uid %u, neither root nor this user "
				   "(uid %u)", shown, dir, (unsigned)st.st_uid,
				   (unsigned)geteuid());
	if ((st.st_mode & (S_IWGRP | S_IWOTH)) &&
	    (own || !(st.st_mode & S_ISVTX)))
		return kgd_err_set(err, KGD_ERR_ABI, "%s: refused: folder %s is "
				   "writable by its group or others (mode %04o): "
				   "anyone there could put a driver in it (chmod "
				   "go-w %s)", shown, dir,
				   (unsigned)(st.st_mode & 07777), dir);
	return KGD_OK;
}

int drv_plugin_trust(const char *path, char *real, size_t cap, kgd_err *err)
{
	char dir[PATH_MAX];
	struct stat st;
	char *slash;
	int rc;

	if (cap < PATH_MAX)
		return kgd_err_set(err, KGD_ERR_ARG, "drv_plugin_trust: buffer");
	if (!realpath(path, real))
		return kgd_err_set(err, errno == ENOENT ? KGD_ERR_NOT_FOUND
							: KGD_ERR_IO,
				   "%s: cannot load plugin: %s", path,
				   strerror(errno));
	if (stat(real, &st) != 0 || !S_ISREG(st.st_mode))
		return kgd_err_set(err, KGD_ERR_ABI, "%s: refused: not a regular "
				   "file", path);
	if (!owner_ok(st.st_uid))
		return kgd_err_set(err, KGD_ERR_ABI, "%s: refused: the plugin file "
				   "belongs to uid %u, neither root nor this user "
				   "(uid %u)", path, (unsigned)st.st_uid,
				   (unsigned)geteuid());
	if (st.st_mode & (S_IWGRP | S_IWOTH))
		return kgd_err_set(err, KGD_ERR_ABI, "%s: refused: the plugin file "
				   "is writable by its group or others (mode %04o); "
				   "only its owner may change a driver (chmod go-w %s)",
				   path, (unsigned)(st.st_mode & 07777), path);
	/* Every folder from the plugin's own up to the root. */
	snprintf(dir, sizeof(dir), "%s", real);
	for (int own = 1; (slash = strrchr(dir, '/')) != NULL; own = 0) {
		slash[slash == dir] = '\0';   /* "/x" -> "/", "/a/b" -> "/a" */
		rc = trust_dir(path, dir, own, err);
		if (rc || strcmp(dir, "/") == 0)
			return rc;
	}
	return KGD_OK;
}

/* Hex SHA-256 of the file at path: the identity of the code that
 * produced a value, recorded with every session. */
static int file_sha256(const char *path, char hex[65], kgd_err *err)
{
	unsigned char buf[65536], md[EVP_MAX_MD_SIZE];
	unsigned md_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int fd = open(path, O_RDONLY | O_CLOEXEC), ok = ctx != NULL;
	ssize_t n;

	if (fd < 0) {
		EVP_MD_CTX_free(ctx);
		return kgd_err_set(err, KGD_ERR_IO, "%s: %s", path, strerror(errno));
	}
	ok = ok && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	while (ok && (n = read(fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		ok = n > 0 && EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	ok = ok && EVP_DigestFinal_ex(ctx, md, &md_len) && md_len == 32;
	close(fd);
	EVP_MD_CTX_free(ctx);
	if (!ok)
		return kgd_err_set(err, KGD_ERR_IO, "%s: cannot hash the plugin "
				   "file", path);
	for (unsigned i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
	return KGD_OK;
}

const char *drv_class_name(int klass)
{
	switch (klass) {
	case DRV_CLASS_POWER_METER: return "power-meter";
	case DRV_CLASS_BERT: return "bert";
	case DRV_CLASS_PROBER: return "prober";
	case DRV_CLASS_LASER: return "laser";
	case DRV_CLASS_SMU: return "smu";
	}
	return "unknown";
}

/* The operation tables of every class, as data: which operations exist,
 * where they sit in the class's table, whether the class requires them and
 * from which ABI minor on they exist. Validation and `station plugins` both
 * read these rows, so a new operation (a new minor) is one row here. */
typedef void (*any_fn)(void);

struct op_row {
	const char *name;
	size_t offset;     /* offsetof() in the class's ops struct */
	int required;
	unsigned minor;    /* first DRV_ABI_MINOR that has the slot */
	const char *group; /* optional operations that only work together:
			      a driver sets every row of a group or none */
};

#define REQ(type, op) {#op, offsetof(type, op), 1, 0, NULL}
#define OPT(type, op) {#op, offsetof(type, op), 0, 0, NULL}
/* An optional operation of a later minor, in a group (or NULL). */
#define OPT_SINCE(type, op, min, grp) {#op, offsetof(type, op), 0, min, grp}

/* BERT 1.1: one gate on several lanes; configure_lanes without the gate
 * operations, or a gate_start nobody can read, is a broken driver. */
#define BERT_MULTILANE "multi-lane"
/* Prober 1.2: a positioner that moves but cannot say where it is (or the
 * reverse) cannot align. */
#define PROBER_FIBER "fiber positioner"

static const struct op_row pm_rows[] = {
	REQ(drv_pm_ops, set_wavelength),
	REQ(drv_pm_ops, read_power),
	OPT(drv_pm_ops, set_averaging),
	OPT(drv_pm_ops, read_power_all),
	OPT_SINCE(drv_pm_ops, set_wavelength_ports, 1, NULL),
};
static const struct op_row bert_rows[] = {
	REQ(drv_bert_ops, configure),
	REQ(drv_bert_ops, measure),
	OPT(drv_bert_ops, output),
	OPT_SINCE(drv_bert_ops, configure_lanes, 1, BERT_MULTILANE),
	OPT_SINCE(drv_bert_ops, gate_start, 1, BERT_MULTILANE),
	OPT_SINCE(drv_bert_ops, gate_read, 1, BERT_MULTILANE),
};
static const struct op_row prober_rows[] = {
	REQ(drv_prober_ops, load_wafer),
	REQ(drv_prober_ops, step_first),
	REQ(drv_prober_ops, step_next),
	REQ(drv_prober_ops, step_to),
	REQ(drv_prober_ops, contact),
	REQ(drv_prober_ops, separate),
	REQ(drv_prober_ops, bin_die),
	REQ(drv_prober_ops, unload_wafer),
	OPT(drv_prober_ops, current_die),
	OPT(drv_prober_ops, die_count),
	OPT_SINCE(drv_prober_ops, fiber_move, 2, PROBER_FIBER),
	OPT_SINCE(drv_prober_ops, fiber_position, 2, PROBER_FIBER),
	OPT_SINCE(drv_prober_ops, map_geometry, 4, NULL),
};
static const struct op_row laser_rows[] = {
	REQ(drv_laser_ops, channels),
	REQ(drv_laser_ops, enable),
	REQ(drv_laser_ops, read),
	OPT(drv_laser_ops, serial),
};
/* 1.2: the class is new, so its own operations are required of it; the
 * rows' minor keeps an older plugin's table from being read at all. */
static const struct op_row smu_rows[] = {
	{"source_current", offsetof(drv_smu_ops, source_current), 1, 2, NULL},
	{"source_voltage", offsetof(drv_smu_ops, source_voltage), 1, 2, NULL},
	{"measure", offsetof(drv_smu_ops, measure), 1, 2, NULL},
	{"output", offsetof(drv_smu_ops, output), 1, 2, NULL},
	OPT_SINCE(drv_smu_ops, sweep, 3, NULL),
};

#undef REQ
#undef OPT
#undef OPT_SINCE

struct class_row {
	int klass;
	const struct op_row *ops;
	size_t n_ops;
};

#define CLASS(k, rows) {k, rows, sizeof(rows) / sizeof(rows[0])}
static const struct class_row classes[] = {
	CLASS(DRV_CLASS_POWER_METER, pm_rows),
	CLASS(DRV_CLASS_BERT, bert_rows),
	CLASS(DRV_CLASS_PROBER, prober_rows),
	CLASS(DRV_CLASS_LASER, laser_rows),
	CLASS(DRV_CLASS_SMU, smu_rows),
};
#undef CLASS

static const struct class_row *class_row(int klass)
{
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++)
		if (classes[i].klass == klass)
			return &classes[i];
	return NULL;
}

/* The descriptor's table for its own class (NULL if it set none). */
static const void *class_table(const drv_descriptor *d)
{
	switch (d->klass) {
	case DRV_CLASS_POWER_METER: return d->pm;
	case DRV_CLASS_BERT: return d->bert;
	case DRV_CLASS_PROBER: return d->prober;
	case DRV_CLASS_LASER: return d->laser;
	/* The slot exists only in 1.2 descriptors. */
	case DRV_CLASS_SMU: return d->abi_minor >= 2 ? d->smu : NULL;
	}
	return NULL;
}

/* The function in a table slot, or NULL. Slots beyond what the plugin's
 * minor defines are never read: an older plugin's table is shorter. */
static any_fn table_op(const drv_descriptor *d, const void *table,
		       const struct op_row *row)
{
	any_fn fn;

	if (!table || d->abi_minor < row->minor)
		return NULL;
	memcpy(&fn, (const char *)table + row->offset, sizeof(fn));
	return fn;
}

/* How many rows of group the plugin sets, out of *total rows. */
static size_t group_set(const drv_descriptor *d, const struct class_row *c,
			const char *group, size_t *total)
{
	const void *table = class_table(d);
	size_t set = 0;

	*total = 0;
	for (size_t i = 0; c && i < c->n_ops; i++) {
		if (!c->ops[i].group || strcmp(c->ops[i].group, group))
			continue;
		(*total)++;
		if (table_op(d, table, &c->ops[i]))
			set++;
	}
	return set;
}

/* A group the plugin sets in part is refused, naming what it has and what
 * it lacks: a caller tests a group once (drv_plugin_bert_multilane) and
 * then calls every member without checking each for NULL. */
static int check_groups(const drv_descriptor *d, const struct class_row *c,
			const void *table, const char *path, kgd_err *err)
{
	for (size_t i = 0; i < c->n_ops; i++) {
		const char *g = c->ops[i].group;
		char list[2][256] = {"", ""};  /* [0] lacks, [1] has */
		size_t used[2] = {0, 0};
		int seen = 0;

		for (size_t k = 0; g && k < i; k++)
			if (c->ops[k].group && strcmp(c->ops[k].group, g) == 0)
				seen = 1;
		if (!g || seen)
			continue;  /* each group once, at its first row */
		for (size_t k = i; k < c->n_ops; k++) {
			int has;

			if (!c->ops[k].group || strcmp(c->ops[k].group, g))
				continue;
			has = table_op(d, table, &c->ops[k]) != NULL;
			if (used[has] < sizeof(list[has]))
				used[has] += (size_t)snprintf(list[has] + used[has],
					sizeof(list[has]) - used[has], "%s%s",
					used[has] ? " " : "", c->ops[k].name);
		}
		if (used[0] && used[1])
			return kgd_err_set(err, KGD_ERR_ABI,
				"%s: driver '%s' sets only part of the %s operations "
				"(has %s; lacks %s): a driver sets all of them or none",
				path, d->name, g, list[1], list[0]);
	}
	return KGD_OK;
}

/* The operations each class must provide, so the sequencer never has to
 * check a required pointer for NULL. */
static int check_class_ops(const drv_descriptor *d, const char *path,
			   kgd_err *err)
{
	const struct class_row *c = class_row(d->klass);
	const void *table;

	if (!c)
		return kgd_err_set(err, KGD_ERR_ABI,
			"%s: driver '%s' has unknown class %d (ABI %d.%d knows "
			"power-meter 1, bert 2, prober 3, laser 4, smu 5)", path, d->name,
			d->klass, DRV_ABI_MAJOR, DRV_ABI_MINOR);
	table = class_table(d);
	if (!table)
		return kgd_err_set(err, KGD_ERR_ABI,
			"%s: %s driver '%s' has no %s operation table", path,
			drv_class_name(d->klass), d->name, drv_class_name(d->klass));
	for (size_t i = 0; i < c->n_ops; i++)
		if (c->ops[i].required && !table_op(d, table, &c->ops[i]))
			return kgd_err_set(err, KGD_ERR_ABI,
				"%s: driver '%s' lacks required operation %s",
				path, d->name, c->ops[i].name);
	return check_groups(d, c, table, path, err);
}

static int validate(const drv_descriptor *d, const char *path, kgd_err *err)
{
	if (d->abi_major != DRV_ABI_MAJOR)
		return kgd_err_set(err, KGD_ERR_ABI,
			"%s: plugin built for driver ABI %u.%u, station speaks %d.%d",
			path, d->abi_major, d->abi_minor, DRV_ABI_MAJOR,
			DRV_ABI_MINOR);
	if (!d->name || !*d->name)
		return kgd_err_set(err, KGD_ERR_ABI, "%s: descriptor has no name",
				   path);
	if (!d->open)
		return kgd_err_set(err, KGD_ERR_ABI,
			"%s: driver '%s' lacks required operation open", path, d->name);
	if (!d->close)
		return kgd_err_set(err, KGD_ERR_ABI,
			"%s: driver '%s' lacks required operation close", path, d->name);
	if (!d->identify)
		return kgd_err_set(err, KGD_ERR_ABI,
			"%s: driver '%s' lacks required operation identify", path,
			d->name);
	return check_class_ops(d, path, err);
}

int drv_plugin_load(const char *path, drv_plugin **out, kgd_err *err)
{
	char real[PATH_MAX], hex[65];
	drv_plugin *p = NULL;
	void *dl;
	const drv_descriptor *d;
	int rc;

	rc = drv_plugin_trust(path, real, sizeof(real), err);
	if (!rc)
		rc = file_sha256(real, hex, err);
	if (rc)
		return rc;
	/* RTLD_LOCAL: two drivers may share internal symbol names. The
	 * resolved file is what was checked and hashed. */
	dl = dlopen(real, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return kgd_err_set(err, KGD_ERR_ABI, "%s: cannot load plugin: %s",
				   path, dlerror());
	d = dlsym(dl, KGD_DRIVER_SYMBOL);
	if (!d) {
		rc = kgd_err_set(err, KGD_ERR_ABI,
				 "%s: not a station driver (no '%s' symbol)", path,
				 KGD_DRIVER_SYMBOL);
		goto error;
	}
	rc = validate(d, path, err);
	if (rc)
		goto error;
	p = calloc(1, sizeof(*p));
	if (!p || !(p->path = strdup(path)) || !(p->file = strdup(real))) {
		rc = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", path);
		goto error;
	}
	p->dl = dl;
	p->desc = d;
	p->timing = dlsym(dl, KGD_DRIVER_TIMING_SYMBOL);  /* optional */
	memcpy(p->sha256, hex, sizeof(p->sha256));
	*out = p;
	return KGD_OK;
error:
	if (p) {
		free(p->path);
		free(p);
	}
	dlclose(dl);
	return rc;
}

void drv_plugin_unload(drv_plugin *p)
{
	if (!p)
		return;
	dlclose(p->dl);
	free(p->path);
	free(p->file);
	free(p);
}

int drv_plugin_locate(const char *name, const char *const *dirs,
		      size_t n_dirs, char *path, size_t cap, kgd_err *err)
{
	char real[PATH_MAX];
	char searched[1024] = "";
	size_t used = 0;
	struct stat st;

	if (!drv_name_valid(name))
		return kgd_err_set(err, KGD_ERR_ARG, "bad driver name '%.80s': "
				   "expected [a-z0-9-]+, at most %d characters "
				   "(a plugin's name, not a path)",
				   name ? name : "", DRV_NAME_MAX);
	for (size_t i = 0; i < n_dirs; i++) {
		snprintf(path, cap, "%s/%s.so", dirs[i], name);
		if (lstat(path, &st) == 0 || errno != ENOENT) {
			/* A relative folder means whatever the working
			 * directory of the moment makes of it. */
			if (dirs[i][0] != '/')
				return kgd_err_set(err, KGD_ERR_ARG, "%s: refused: "
						   "plugin folder '%s' is not an "
						   "absolute path", path, dirs[i]);
			return drv_plugin_trust(path, real, sizeof(real), err);
		}
		used += (size_t)snprintf(searched + used,
					 used < sizeof(searched) ? sizeof(searched) - used : 0,
					 "%s%s", i ? ", " : "", dirs[i]);
		if (used >= sizeof(searched))
			used = sizeof(searched) - 1;
	}
	return kgd_err_set(err, KGD_ERR_NOT_FOUND,
			   "unknown driver '%s': no %s.so in %s", name, name,
			   searched);
}

int drv_plugin_find(const char *name, const char *const *dirs, size_t n_dirs,
		    drv_plugin **out, kgd_err *err)
{
	char path[PATH_MAX];
	drv_plugin *p;
	int rc;

	rc = drv_plugin_locate(name, dirs, n_dirs, path, sizeof(path), err);
	if (!rc)
		rc = drv_plugin_load(path, &p, err);
	if (rc)
		return rc;
	/* A file named for one driver carrying another (a bench's null
	 * meter copied over a real one) would put its values under the
	 * wrong name. */
	if (strcmp(p->desc->name, name) != 0) {
		rc = kgd_err_set(err, KGD_ERR_ABI, "%s: refused: the plugin calls "
				 "itself '%s', not '%s' (a driver is loaded only "
				 "from a file of its own name)", path,
				 p->desc->name, name);
		drv_plugin_unload(p);
		return rc;
	}
	*out = p;
	return KGD_OK;
}

void drv_plugin_ops(const drv_plugin *p, char *buf, size_t cap)
{
	const drv_descriptor *d = p->desc;
	const struct class_row *c = class_row(d->klass);
	const void *table = class_table(d);
	size_t used = 0;

	if (cap == 0)
		return;
	buf[0] = '\0';
	used += (size_t)snprintf(buf, cap, "open close identify");
	for (size_t i = 0; c && i < c->n_ops && used < cap; i++)
		if (table_op(d, table, &c->ops[i]))
			used += (size_t)snprintf(buf + used, cap - used, " %s",
						 c->ops[i].name);
}

int drv_plugin_bert_multilane(const drv_plugin *p)
{
	size_t total, set;

	if (!p || p->desc->klass != DRV_CLASS_BERT)
		return 0;
	set = group_set(p->desc, class_row(DRV_CLASS_BERT), BERT_MULTILANE, &total);
	return total > 0 && set == total;
}
