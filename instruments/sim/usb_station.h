/*
 * instruments/sim/usb_station.h - what `kgd-vstation --usb` does with its
 * endpoints: the pm100 becomes the testbed's USBTMC PM100D (usbfs.h), the
 * ELSFP laser's pty the testbed's USB-serial adapter (usbserial.h); and the
 * end of a command run under the testbed ("-- CMD").
 *
 * Invariant: sim_usb_stop undoes whatever sim_usb_start got to, so a
 * failed start leaves no testbed directory behind.
 */
#ifndef KGD_SIM_USB_STATION_H
#define KGD_SIM_USB_STATION_H

#include <sys/types.h>

#include "loop.h"
#include "usbfs.h"
#include "usbserial.h"
#include "usbtmc_dev.h"

/* Put the USB instruments of eps (n) on a new testbed; cfg's faults and
 * max_transfer go to the PM100D, log_path (NULL: none) gets the device
 * log. 0, or -1 with a message on stderr. */
int sim_usb_start(sim_endpoint *eps, int n, const usbtmc_dev *cfg, const char *log_path);

/* Remove the testbed (safe without a start). */
void sim_usb_stop(void);

/* The command under the testbed: its exit status (128+signal), stopping
 * it first (SIGTERM, SIGKILL after 5 s) if it still runs. */
int sim_usb_end_child(pid_t child);

#endif
