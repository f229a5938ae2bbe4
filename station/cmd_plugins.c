/*
 * station/cmd_plugins.c - `station plugins`: every *.so in the plugin
 * search path, loaded and validated exactly as a run would, so what this
 * lists as OK is what a run can use, and what it lists as REJECTED says why.
 */
#include <dirent.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cfg.h"
#include "cli.h"
#include "plugin.h"

/* Short options; the long ones are in the option table below. */
#define OPTSTRING "c:h"

static void help(void)
{
	const char *dirs[32];
	size_t n = drv_plugin_dirs(NULL, 0, dirs, 32);

	printf(
"usage: station plugins [--config STATION.yaml]\n\n"
"List the driver plugins the station can load: name, instrument class,\n"
"driver ABI version, file, and the operations each provides. Every *.so\n"
"found is loaded and validated exactly as a run would; files that fail\n"
"(other ABI major, no kgd_driver symbol, a required operation missing,\n"
"unknown class, only part of the BERT's multi-lane operations) are listed\n"
"as REJECTED with the reason. The station speaks driver ABI %d.%d and\n"
"accepts any minor of major %d.\n\n"
"Plugin search path, in order (a run takes the first <driver>.so found):\n"
"  1. the station's own plugins: the installed plugin folder beside this\n"
"     program (%s),\n"
"     or for a station run from its build tree that build's plugins/\n"
"  2. plugin_path: [folders] from the station config (--config, else\n"
"     $KGD_STATION_CONFIG, else " KGD_SYSTEM_CONFIG "):\n"
"     they add drivers, they never shadow the station's own\n"
"  3. $KGD_PLUGIN_PATH, colon-separated folders - build-tree stations\n"
"     only (tests, benchmarks); an installed station ignores it\n"
"A file or folder that anyone but root or this user owns or may write\n"
"is refused before it is loaded (docs/GUARANTEES.md).\n"
"Here that is, without plugin_path:\n",
	       DRV_ABI_MAJOR, DRV_ABI_MINOR, DRV_ABI_MAJOR,
	       drv_plugin_installed_dir());
	for (size_t i = 0; i < n; i++)
		printf("  %s\n", dirs[i]);
	printf("\nExit 0 if at least one plugin loads, 1 otherwise.\n");
}

static int so_name(const struct dirent *e)
{
	size_t n = strlen(e->d_name);

	return n > 3 && strcmp(e->d_name + n - 3, ".so") == 0;
}

int cmd_plugins(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, 0, 'c'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	const char *config_path = NULL, *dirs[32];
	cfg_station *c = NULL;
	size_t n_dirs;
	kgd_err err;
	int ch, loaded = 0;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, OPTSTRING, opts, NULL)) != -1) {
		switch (ch) {
		case 'c': config_path = optarg; break;
		case 'h': help(); return CLI_OK;
		default: return cli_bad_option("plugins", OPTSTRING, opts, argv);
		}
	}
	if (optind != argc)
		return cli_usage("plugins", "unexpected argument '%s'", argv[optind]);
	config_path = cli_config_path(config_path);
	if (config_path && cfg_load(config_path, &c, &err))
		return cli_fail(&err);
	n_dirs = drv_plugin_dirs(c ? (const char *const *)c->plugin_path : NULL,
				 c ? c->n_plugin_path : 0, dirs, 32);

	printf("%-8s %-20s %-12s %-5s %s\n", "status", "name", "class", "abi",
	       "file / operations");
	for (size_t i = 0; i < n_dirs; i++) {
		struct dirent **list;
		int n = scandir(dirs[i], &list, so_name, alphasort);

		for (int j = 0; j < n; j++) {
			char path[4096], ops[512];
			drv_plugin *p;

			char name[256];

			snprintf(path, sizeof(path), "%s/%s", dirs[i], list[j]->d_name);
			/* Loaded as a run would: by its name, from its folder. */
			snprintf(name, sizeof(name), "%.*s",
				 (int)strlen(list[j]->d_name) - 3, list[j]->d_name);
			free(list[j]);
			if (drv_plugin_find(name, &dirs[i], 1, &p, &err)) {
				printf("%-8s %s\n", "REJECTED", err.msg);
				continue;
			}
			drv_plugin_ops(p, ops, sizeof(ops));
			printf("%-8s %-20s %-12s %u.%-3u %s\n%47s%s\n", "OK",
			       p->desc->name, drv_class_name(p->desc->klass),
			       p->desc->abi_major, p->desc->abi_minor, path, "",
			       ops);
			loaded++;
			drv_plugin_unload(p);
		}
		if (n >= 0)
			free(list);
	}
	cfg_free(c);
	if (!loaded) {
		cli_error("no loadable plugin found");
		return CLI_ERROR;
	}
	return CLI_OK;
}
