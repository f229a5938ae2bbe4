/*
 * station/plugin.c - dlopen-based driver loading (see plugin.h).
 *
 * Validation happens here, once, so the sequencer may call any required
 * operation of a loaded plugin without checking for NULL.
 */
#include "plugin.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef KGD_PLUGIN_BUILD_DIR
#define KGD_PLUGIN_BUILD_DIR "plugins"
#endif
#ifndef KGD_PLUGIN_INSTALL_DIR
#define KGD_PLUGIN_INSTALL_DIR "/usr/local/lib/kgd-station/plugins"
#endif

size_t drv_plugin_dirs(const char *const *extra, size_t n_extra,
		       const char **dirs, size_t max_dirs)
{
	/* $KGD_PLUGIN_PATH is split into a static copy: the returned pointers
	 * must outlive this call. */
	static char env_copy[4096];
	const char *env = getenv("KGD_PLUGIN_PATH");
	size_t n = 0;

	if (env && *env && strlen(env) < sizeof(env_copy)) {
		char *save = NULL, *tok;

		strcpy(env_copy, env);
		for (tok = strtok_r(env_copy, ":", &save); tok && n < max_dirs;
		     tok = strtok_r(NULL, ":", &save))
			dirs[n++] = tok;
	}
	if (n < max_dirs)
		dirs[n++] = KGD_PLUGIN_BUILD_DIR;
	for (size_t i = 0; i < n_extra && n < max_dirs; i++)
		dirs[n++] = extra[i];
	if (n < max_dirs)
		dirs[n++] = KGD_PLUGIN_INSTALL_DIR;
	return n;
}

const char *drv_class_name(int klass)
{
	switch (klass) {
	case DRV_CLASS_POWER_METER: return "power-meter";
	case DRV_CLASS_BERT: return "bert";
	case DRV_CLASS_PROBER: return "prober";
	case DRV_CLASS_LASER: return "laser";
	}
	return "unknown";
}

/* The operations each class must provide, so the sequencer never has to
 * check a required pointer for NULL. */
static int check_class_ops(const drv_descriptor *d, const char *path,
			   kgd_err *err)
{
	switch (d->klass) {
	case DRV_CLASS_POWER_METER:
		if (!d->pm)
			return kgd_err_set(err, KGD_ERR_ABI,
				"%s: power-meter driver '%s' has no operation table",
				path, d->name);
		if (!d->pm->set_wavelength)
			return kgd_err_set(err, KGD_ERR_ABI,
				"%s: driver '%s' lacks required operation set_wavelength",
				path, d->name);
		if (!d->pm->read_power)
			return kgd_err_set(err, KGD_ERR_ABI,
				"%s: driver '%s' lacks required operation read_power",
				path, d->name);
		return KGD_OK;
	case DRV_CLASS_BERT:
	case DRV_CLASS_PROBER:
	case DRV_CLASS_LASER:
		return kgd_err_set(err, KGD_ERR_ABI,
			"%s: driver '%s' is of class %s, which ABI %d.%d does not "
			"define operations for yet", path, d->name,
			drv_class_name(d->klass), DRV_ABI_MAJOR, DRV_ABI_MINOR);
	}
	return kgd_err_set(err, KGD_ERR_ABI, "%s: driver '%s' has unknown class %d",
			   path, d->name, d->klass);
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
	if (!d->open || !d->close || !d->identify)
		return kgd_err_set(err, KGD_ERR_ABI,
			"%s: driver '%s' lacks a required operation (open, close, identify)",
			path, d->name);
	return check_class_ops(d, path, err);
}

int drv_plugin_load(const char *path, drv_plugin **out, kgd_err *err)
{
	drv_plugin *p = NULL;
	void *dl;
	const drv_descriptor *d;
	int rc;

	/* RTLD_LOCAL: two drivers may share internal symbol names. */
	dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!dl)
		return kgd_err_set(err, access(path, F_OK) ? KGD_ERR_NOT_FOUND
							   : KGD_ERR_ABI,
				   "%s: cannot load plugin: %s", path, dlerror());
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
	if (!p || !(p->path = strdup(path))) {
		rc = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", path);
		goto error;
	}
	p->dl = dl;
	p->desc = d;
	*out = p;
	return KGD_OK;
error:
	free(p);
	dlclose(dl);
	return rc;
}

void drv_plugin_unload(drv_plugin *p)
{
	if (!p)
		return;
	dlclose(p->dl);
	free(p->path);
	free(p);
}

int drv_plugin_find(const char *name, const char *const *dirs, size_t n_dirs,
		    drv_plugin **out, kgd_err *err)
{
	char path[4096];
	char searched[1024] = "";
	size_t used = 0;

	for (size_t i = 0; i < n_dirs; i++) {
		snprintf(path, sizeof(path), "%s/%s.so", dirs[i], name);
		if (access(path, F_OK) == 0)
			return drv_plugin_load(path, out, err);
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

void drv_plugin_ops(const drv_plugin *p, char *buf, size_t cap)
{
	const drv_descriptor *d = p->desc;
	size_t used = 0;

#define OP(cond, label)                                                      \
	do {                                                                 \
		if ((cond) && used < cap)                                    \
			used += (size_t)snprintf(buf + used, cap - used,     \
						 "%s%s", used ? " " : "", label); \
	} while (0)
	buf[0] = '\0';
	OP(d->open, "open");
	OP(d->close, "close");
	OP(d->identify, "identify");
	if (d->klass == DRV_CLASS_POWER_METER && d->pm) {
		OP(d->pm->set_wavelength, "set_wavelength");
		OP(d->pm->read_power, "read_power");
		OP(d->pm->set_averaging, "set_averaging");
		OP(d->pm->read_power_all, "read_power_all");
	}
#undef OP
}
