/*
 * station/cmd_scan.c - `station scan`: what is attached, and the URI to put
 * in station.yaml for each. Finding nothing is a normal answer (exit 0).
 * The serial and USB enumerations stand alone: one that fails is named on
 * stderr after the list of what the other found, and the exit is 0 as
 * long as one of them ran (1 only when both failed).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "scan.h"

/* Short options; the long ones are in the option table below. */
#define OPTSTRING "h"

static void help(void)
{
	printf(
"usage: station scan\n\n"
"List serial ports (libserialport) and USBTMC instruments (libusb), each\n"
"with the URI to paste into a station config's instruments: section.\n"
"Serial URIs carry a default baud rate; set the instrument's own.\n"
"An enumeration that cannot run is named on stderr; the other still lists.\n"
"Exit 0 when at least one enumeration ran (also when nothing is found),\n"
"1 when both failed.\n");
}

struct scan_tally {
	int count;        /* devices listed */
	int failed;       /* enumerations that could not run */
	char why[2][KGD_ERR_MSG_MAX + 16];
};

static void print_dev(const xport_scan_dev *d, void *user)
{
	int *count = &((struct scan_tally *)user)->count;

	if (!*count)
		printf("%-7s %-45s %-9s %s\n", "kind", "uri", "vid:pid", "description");
	if (d->usb_vid >= 0)
		printf("%-7s %-45s %04x:%04x %s%s%s\n", d->kind, d->uri, d->usb_vid,
		       d->usb_pid, d->description, d->serial[0] ? " serial " : "",
		       d->serial);
	else
		printf("%-7s %-45s %-9s %s\n", d->kind, d->uri, "-", d->description);
	(*count)++;
}

/* Kept until the list is out, so stderr does not cut into the table. */
static void note_failure(const char *kind, const char *why, void *user)
{
	struct scan_tally *t = user;

	if (t->failed < 2)
		snprintf(t->why[t->failed++], sizeof(t->why[0]), "%s: %s", kind, why);
}

int cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	kgd_err err;
	struct scan_tally t = {0};
	int ch, rc;

	optind = 1;
	opterr = 0;
	while ((ch = getopt_long(argc, argv, OPTSTRING, opts, NULL)) != -1) {
		if (ch == 'h') {
			help();
			return CLI_OK;
		}
		return cli_bad_option("scan", OPTSTRING, opts, argv);
	}
	if (optind != argc)
		return cli_usage("scan", "unexpected argument '%s'", argv[optind]);
	kgd_err_clear(&err);
	rc = xport_scan(print_dev, note_failure, &t, &err);
	if (!t.count && !rc)
		printf("no %s found\n", t.failed == 0 ? "serial ports or USBTMC instruments"
				       : strncmp(t.why[0], "serial", 6) == 0 ? "USBTMC instruments"
				       : "serial ports");
	fflush(stdout);
	if (rc)
		return cli_fail(&err);
	for (int i = 0; i < t.failed; i++)
		fprintf(stderr, "station: scan: %s\n", t.why[i]);
	return CLI_OK;
}
