/*
 * station/cmd_scan.c - `station scan`: what is attached, and the URI to put
 * in station.yaml for each. Finding nothing is a normal answer (exit 0).
 */
#include <getopt.h>
#include <stdio.h>

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
"Exit 0, also when nothing is found.\n");
}

static void print_dev(const xport_scan_dev *d, void *user)
{
	int *count = user;

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

int cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	kgd_err err;
	int ch, count = 0;

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
	if (xport_scan(print_dev, &count, &err))
		return cli_fail(&err);
	if (!count)
		printf("no serial ports or USBTMC instruments found\n");
	return CLI_OK;
}
