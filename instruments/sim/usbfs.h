/*
 * instruments/sim/usbfs.h - the USB side of the virtual station: a umockdev
 * testbed holding one emulated Thorlabs PM100D (1313:8078, serial
 * P0000001: sysfs attributes, descriptors and a /dev/bus/usb node) and the
 * usbdevfs ioctl handler that libusb's Linux backend talks to (SUBMITURB /
 * REAPURBNDELAY / DISCARDURB, claims, CLEAR_HALT, control transfers), with
 * the USBTMC function of usbtmc_dev.c behind its endpoints.
 *
 * A process sees the device only when it runs under umockdev's preload
 * library with UMOCKDEV_DIR set to the testbed (usbfs_spawn does that).
 *
 * Invariants: the handler runs in umockdev's worker thread and touches no
 * state of the socket loop (it reaches the pm100 over its socket); the
 * testbed directory is removed by usbfs_stop; one process at a time holds
 * the interface, as with a real device.
 */
#ifndef KGD_SIM_USBFS_H
#define KGD_SIM_USBFS_H

#include <sys/types.h>

#include "usbtmc_dev.h"

#define USBFS_VID 0x1313
#define USBFS_PID 0x8078
#define USBFS_SERIAL "P0000001"

/* Create the (empty) testbed; it sets UMOCKDEV_DIR in our environment.
 * 0 / -1. */
int usbfs_start(void);

/* The testbed, for usbserial.c. */
struct _UMockdevTestbed *usbfs_testbed(void);

/* Add the PM100D, its USBTMC function connected to the pm100 endpoint on
 * 127.0.0.1:pm100_port. faults/max_transfer/log as in usbtmc_dev (the log
 * file is borrowed). 0, or -1 with a message on stderr. */
int usbfs_add_usbtmc(int pm100_port, const usbtmc_dev_fault *faults, int n_faults,
		     size_t max_transfer, FILE *log);

/* The testbed's root (UMOCKDEV_DIR), valid until usbfs_stop. */
const char *usbfs_dir(void);

/* Run argv under the testbed (LD_PRELOAD of libumockdev-preload, its
 * UMOCKDEV_DIR; ASan's link-order check off, as the preload comes first).
 * The child's pid, or -1. */
pid_t usbfs_spawn(char *const argv[]);

/* Remove the testbed and its directory. */
void usbfs_stop(void);

#endif
