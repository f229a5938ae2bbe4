/*
 * station/cfg.c - load and check the station config (format: cfg.h and
 * docs/SEQUENCES.md).
 *
 * Invariant: a cfg_station handed out has a good station name (ident.h:
 * at most 64 bytes of text, no control character), and every instrument
 * has a role of [a-z0-9_]+ (unique, as a YAML key), a driver named [a-z0-9-]+
 * (a plugin's name, never a path) and a URI with a scheme; plugin_path
 * holds absolute folders only. Whether the driver exists or the URI
 * answers is for plugin loading and the transports to say. Same walker
 * and error style as seq.c.
 */
#include "cfg.h"
#include "ident.h"
#include "plugin.h"
#include "yaml_util.h"

#include <stdlib.h>
#include <string.h>

/* Longest instrument timeout: an hour is already a hung instrument. */
#define CFG_TIMEOUT_MAX_MS 3600000L

static const char *const root_keys[] = {
	"station", "plugin_path", "instruments", NULL
};
static const char *const instrument_keys[] = {
	"driver", "uri", "timeout_ms", NULL
};

static void parse_instrument(yu_doc *d, const yaml_node_t *key,
			     const yaml_node_t *val, cfg_instrument *in)
{
	yaml_node_t *v;
	long timeout;

	in->line = (int)key->start_mark.line + 1;
	in->column = (int)key->start_mark.column + 1;
	in->role = yu_strdup(d, (const char *)key->data.scalar.value);
	if (!in->role)
		return;
	/* Roles are what sequences name ("pm" in "pm.optical_power"). */
	if (!yu_is_name(in->role))
		yu_problem(d, key->start_mark,
			   "bad role '%.60s': expected [a-z0-9_]+", in->role);
	if (yu_expect(d, val, YAML_MAPPING_NODE, "an instrument") != 0)
		return;
	yu_check_keys(d, val, "instrument", instrument_keys);
	if ((v = yu_require(d, val, "driver"))) {
		in->driver = yu_string(d, v, "driver");
		/* A driver is a plugin's name, looked up as <name>.so in the
		 * plugin folders: "../x/evil" must never become a path. */
		if (in->driver && !drv_name_valid(in->driver))
			yu_problem(d, v->start_mark, "bad driver name '%.60s': "
				   "expected [a-z0-9-]+, at most %d characters "
				   "(a plugin's name, not a path)", in->driver,
				   DRV_NAME_MAX);
	}
	if ((v = yu_require(d, val, "uri"))) {
		in->uri = yu_string(d, v, "uri");
		/* Caught here it has a line number; caught by the transport at
		 * run time it would not. */
		if (in->uri && !strstr(in->uri, "://"))
			yu_problem(d, v->start_mark,
				   "uri '%.60s' has no scheme (expected e.g. tcp://host:port)",
				   in->uri);
	}
	if ((v = yu_get(d, val, "timeout_ms")) &&
	    yu_int(d, v, "timeout_ms", 0, CFG_TIMEOUT_MAX_MS, &timeout) == 0)
		in->timeout_ms = (int)timeout;
}

static void parse_instruments(yu_doc *d, const yaml_node_t *root,
			      cfg_station *c)
{
	const yaml_node_pair_t *pair;
	yaml_node_t *n = yu_require(d, root, "instruments");

	if (!n || yu_is_null(n))
		return;
	if (yu_expect(d, n, YAML_MAPPING_NODE, "instruments") != 0)
		return;
	yu_check_keys(d, n, "instruments", NULL);  /* repeated roles */
	c->instruments = yu_calloc(d, (size_t)(n->data.mapping.pairs.top -
					       n->data.mapping.pairs.start),
				   sizeof(*c->instruments));
	if (!c->instruments)
		return;
	for (pair = n->data.mapping.pairs.start; pair < n->data.mapping.pairs.top;
	     pair++) {
		yaml_node_t *k = yu_node(d, pair->key);

		if (k->type == YAML_SCALAR_NODE)  /* others already reported */
			parse_instrument(d, k, yu_node(d, pair->value),
					 &c->instruments[c->n_instruments++]);
	}
}

static void parse_plugin_path(yu_doc *d, const yaml_node_t *n, cfg_station *c)
{
	const yaml_node_item_t *item;
	char *dir;

	if (yu_is_null(n))
		return;
	if (yu_expect(d, n, YAML_SEQUENCE_NODE, "plugin_path") != 0)
		return;
	c->plugin_path = yu_calloc(d, (size_t)(n->data.sequence.items.top -
					       n->data.sequence.items.start),
				   sizeof(*c->plugin_path));
	if (!c->plugin_path)
		return;
	for (item = n->data.sequence.items.start; item < n->data.sequence.items.top;
	     item++) {
		yaml_node_t *v = yu_node(d, *item);

		dir = yu_string(d, v, "plugin_path entry");
		/* Relative to what? The folder the station happens to be
		 * started in would decide which code it loads. */
		if (dir && dir[0] != '/')
			yu_problem(d, v->start_mark, "plugin_path entry '%.60s' is "
				   "not an absolute folder", dir);
		if (dir)
			c->plugin_path[c->n_plugin_path++] = dir;
	}
}

static void parse_root(yu_doc *d, const yaml_node_t *root, cfg_station *c)
{
	yaml_node_t *v;

	if (yu_expect(d, root, YAML_MAPPING_NODE, "a station config") != 0)
		return;
	yu_check_keys(d, root, "station config", root_keys);
	if ((v = yu_require(d, root, "station")) &&
	    (c->name = yu_string(d, v, "station")))
		ident_yu_check(d, v, IDENT_STATION);
	if ((v = yu_get(d, root, "plugin_path")))
		parse_plugin_path(d, v, c);
	parse_instruments(d, root, c);
}

/* The walker behind cfg_load (out set) and cfg_check (out NULL). */
static int cfg_parse(const char *path, yu_report_fn report, void *user,
		     cfg_station **out, kgd_err *err)
{
	cfg_station *c = NULL;
	yaml_node_t *root;
	yu_doc d;
	int status;

	if (!path)
		return kgd_err_set(err, KGD_ERR_ARG, "cfg: no station config given");
	status = yu_open(&d, path, report, user, err);
	if (status != KGD_OK)
		goto out;
	c = yu_calloc(&d, 1, sizeof(*c));
	if (c) {
		c->path = yu_strdup(&d, path);
		root = yu_root(&d);
		if (root)
			parse_root(&d, root, c);
	}
	status = yu_status(&d);
	if (status != KGD_OK || !out)
		goto out;
	*out = c;
	c = NULL;
out:
	cfg_free(c);
	yu_close(&d);
	return status;
}

int cfg_load(const char *path, cfg_station **out, kgd_err *err)
{
	if (!out)
		return kgd_err_set(err, KGD_ERR_ARG, "cfg_load: out is NULL");
	return cfg_parse(path, NULL, NULL, out, err);
}

int cfg_check(const char *path, void (*report)(void *user, const char *msg),
	      void *user, kgd_err *err)
{
	return cfg_parse(path, report, user, NULL, err);
}

void cfg_free(cfg_station *c)
{
	size_t i;

	if (!c)
		return;
	free(c->path);
	free(c->name);
	for (i = 0; i < c->n_plugin_path; i++)
		free(c->plugin_path[i]);
	free(c->plugin_path);
	for (i = 0; i < c->n_instruments; i++) {
		free(c->instruments[i].role);
		free(c->instruments[i].driver);
		free(c->instruments[i].uri);
	}
	free(c->instruments);
	free(c);
}

const cfg_instrument *cfg_find_role(const cfg_station *c, const char *role)
{
	size_t i;

	for (i = 0; i < c->n_instruments; i++)
		if (c->instruments[i].role && strcmp(c->instruments[i].role, role) == 0)
			return &c->instruments[i];
	return NULL;
}
