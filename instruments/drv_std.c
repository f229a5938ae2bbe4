/*
 * instruments/drv_std.c - the driver chores of kgd/drv_std.h: allocate a
 * handle, read and match *IDN?, clear status, say which models a driver
 * supports, close and identify.
 *
 * Invariant: the supported-model text is built from the table that
 * drv_std_match searches, row by row in table order, so what a message
 * lists is exactly what open accepts. Nothing here prints or keeps state:
 * everything lives in the handle the driver owns.
 */
#include "kgd/drv_std.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const drv_std_model *row(const drv_std_info *info, size_t i)
{
	return (const drv_std_model *)(const void *)((const char *)info->models
						     + i * info->model_size);
}

/* A zeroed handle with dev.x set; *out stays NULL on failure. */
static int alloc(const char *name, xport *x, size_t size, void **handle,
		 drv_std_dev **out, kgd_err *err)
{
	*out = NULL;
	if (!x || !handle)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: open: no transport", name);
	*handle = NULL;
	*out = calloc(1, size < sizeof(drv_std_dev) ? sizeof(drv_std_dev) : size);
	if (!*out)
		return kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", xport_uri(x));
	(*out)->x = x;
	return KGD_OK;
}

int drv_std_open(const char *name, size_t size, drv_std_setup_fn *setup,
		 xport *x, void **handle, kgd_err *err)
{
	drv_std_dev *dev = NULL;
	int rc = alloc(name, x, size, handle, &dev, err);

	if (rc == KGD_OK && setup)
		rc = setup(dev, err);
	if (rc) {
		free(dev);
		return rc;
	}
	*handle = dev;
	return KGD_OK;
}

const drv_std_model *drv_std_match(const drv_std_info *info, const char *idn)
{
	for (size_t i = 0; idn && i < info->n_models; i++)
		if (scpi_idn_matches(idn, info->vendors, row(info, i)->model))
			return row(info, i);
	return NULL;
}

/* Append s to buf at *used, cut at cap (buf stays terminated). */
static void append(char *buf, size_t cap, size_t *used, const char *s)
{
	size_t n = strlen(s);

	if (n > cap - 1 - *used)
		n = cap - 1 - *used;
	memcpy(buf + *used, s, n);
	*used += n;
	buf[*used] = '\0';
}

const char *drv_std_models_text(const drv_std_info *info, char *buf, size_t cap)
{
	size_t used = 0;

	if (!buf || !cap)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; i < info->n_models; i++) {
		const drv_std_model *m = row(info, i);

		append(buf, cap, &used, i ? ", " : "");
		append(buf, cap, &used, m->model);
		if (m->note) {
			append(buf, cap, &used, " (");
			append(buf, cap, &used, m->note);
			append(buf, cap, &used, ")");
		}
	}
	for (size_t i = 0; i < DRV_STD_VENDORS_MAX && info->vendors[i]; i++) {
		append(buf, cap, &used, i ? " or " : " from ");
		append(buf, cap, &used, info->vendors[i]);
	}
	return buf;
}

int drv_std_unsupported(const drv_std_info *info, xport *x, const char *idn,
			kgd_err *err)
{
	char models[KGD_ERR_MSG_MAX];
	size_t n = strlen(idn);

	drv_std_models_text(info, models, sizeof(models));
	return kgd_err_set(err, KGD_ERR_UNSUPPORTED,
			   "%s: not %s this driver knows: *IDN? replied '%.*s%s' "
			   "(%s supports %s)", xport_uri(x), info->kind,
			   DRV_STD_IDN_QUOTE_MAX, idn,
			   n > DRV_STD_IDN_QUOTE_MAX ? "..." : "", info->name, models);
}

int drv_std_scpi_open(const drv_std_info *info, size_t size,
		      drv_std_setup_fn *setup, xport *x, void **handle,
		      kgd_err *err)
{
	drv_std_dev *dev = NULL;
	int rc = alloc(info->name, x, size, handle, &dev, err);

	if (rc)
		return rc;
	rc = scpi_query(x, dev->idn, sizeof(dev->idn), err, "*IDN?");
	if (rc)
		goto error;
	dev->model = drv_std_match(info, dev->idn);
	if (!dev->model) {
		rc = drv_std_unsupported(info, x, dev->idn, err);
		goto error;
	}
	if (info->clear_status && (rc = scpi_cls(x, err)))
		goto error;
	if (setup && (rc = setup(dev, err)))
		goto error;
	*handle = dev;
	return KGD_OK;
error:
	free(dev);
	return rc;
}

void drv_std_close(void *handle)
{
	free(handle);
}

int drv_std_identify(void *handle, char *buf, size_t cap, kgd_err *err)
{
	drv_std_dev *dev = handle;

	return scpi_copy_idn(dev->x, dev->idn, buf, cap, err);
}
