/*
 * instruments/sim/usb_station.c - see usb_station.h.
 */
#include "usb_station.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "elsfp.h"
#include "pm_scpi.h"

static FILE *usb_log;

int sim_usb_start(sim_endpoint *eps, int n, const usbtmc_dev *cfg, const char *log_path)
{
	if (usbfs_start() != 0) {
		fprintf(stderr, "kgd-vstation: --usb: cannot create a umockdev testbed\n");
		return -1;
	}
	if (log_path && !(usb_log = fopen(log_path, "w"))) {
		fprintf(stderr, "kgd-vstation: cannot write %s: %s\n", log_path,
			strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int master, slave;

		if (eps[i].exec == sim_pm100_execute) {
			if (usbfs_add_usbtmc(eps[i].port, cfg->faults, cfg->n_faults,
					     cfg->max_transfer, usb_log))
				return -1;
		} else if (eps[i].exec == sim_elsfp_execute) {
			if (usbserial_add(&master, &slave, usb_log))
				return -1;
			master = dup(master);   /* the testbed keeps its own */
			if (master < 0) {
				close(slave);
				return -1;
			}
			sim_endpoint_adopt_pty(&eps[i], master, slave, USBSERIAL_NODE);
		}
	}
	return 0;
}

void sim_usb_stop(void)
{
	if (usb_log)
		fclose(usb_log);
	usb_log = NULL;
	usbserial_stop();
	usbfs_stop();
}

int sim_usb_end_child(pid_t child)
{
	int st = 0;

	if (waitpid(child, &st, WNOHANG) == 0) {
		kill(child, SIGTERM);
		for (int i = 0; i < 50 && waitpid(child, &st, WNOHANG) == 0; i++)
			usleep(100000);
		if (waitpid(child, &st, WNOHANG) == 0) {
			kill(child, SIGKILL);
			waitpid(child, &st, 0);
		}
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
