/*
 * tests/usb_hold.c - test helper: open an instrument through the transport
 * API (xport_open), ask its identity, print "open <IDN>" and keep it open
 * until SIGTERM or SECONDS pass; then close it and exit 0. test_usb uses
 * it as "another process that holds the USBTMC interface", so the moment
 * the device is held is known, not guessed from timing. With "clear" it
 * first sends a device clear (xport_clear: USBTMC INITIATE_CLEAR and
 * CHECK_CLEAR_STATUS) and asks the identity again, printing "cleared".
 *
 * usage: usb_hold URI SECONDS [clear]
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kgd/scpi.h"
#include "kgd/xport.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	xport *x = NULL;
	kgd_err err;
	char idn[256];
	int secs;

	if (argc < 3 || argc > 4 || (secs = atoi(argv[2])) <= 0 ||
	    (argc == 4 && strcmp(argv[3], "clear") != 0)) {
		fprintf(stderr, "usage: usb_hold URI SECONDS [clear]\n");
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_term;
	sigaction(SIGTERM, &sa, NULL);
	kgd_err_clear(&err);
	if (xport_open(argv[1], 2000, &x, &err) ||
	    scpi_query(x, idn, sizeof(idn), &err, "*IDN?")) {
		fprintf(stderr, "usb_hold: %s\n", err.msg);
		xport_close(x);
		return 1;
	}
	printf("open %s\n", idn);
	if (argc == 4) {
		if (xport_clear(x, &err) ||
		    scpi_query(x, idn, sizeof(idn), &err, "*IDN?")) {
			fprintf(stderr, "usb_hold: %s\n", err.msg);
			xport_close(x);
			return 1;
		}
		printf("cleared %s\n", idn);
	}
	fflush(stdout);
	for (int i = 0; i < secs * 10 && !stop; i++)
		usleep(100000);
	xport_close(x);
	return 0;
}
