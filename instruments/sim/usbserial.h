/*
 * instruments/sim/usbserial.h - a USB-serial adapter on the virtual
 * station's umockdev testbed (usbfs.h): /dev/ttyUSB0 (char 188:0) with the
 * sysfs tree of an FTDI FT232R (0403:6001, serial USBSERIAL_SERIAL) above
 * it, so libserialport lists it as a USB port with VID, PID and serial
 * number, and its sp_open() runs: the modem-line ioctls a pty lacks
 * (TIOCMGET, TIOCMBIS, TIOCMBIC, TIOCMSET) are answered by our ioctl
 * handler, every other ioctl runs on the pty behind the node.
 *
 * Invariant: the instrument's side of the line is the pty's master, served
 * by the socket loop like any simulator pty; its slave stays open here so
 * the master never sees a hang-up between clients.
 */
#ifndef KGD_SIM_USBSERIAL_H
#define KGD_SIM_USBSERIAL_H

#include <stddef.h>
#include <stdio.h>

#define USBSERIAL_VID 0x0403
#define USBSERIAL_PID 0x6001
#define USBSERIAL_SERIAL "ELSFP0001"
#define USBSERIAL_NODE "/dev/ttyUSB0"

/* Add the adapter to the testbed (usbfs_start first). *master gets the
 * pty master (the instrument's end, raw mode), *slave an open slave. The
 * modem-line ioctls are logged to log (borrowed; NULL: not). 0, or -1
 * with a message on stderr. */
int usbserial_add(int *master, int *slave, FILE *log);

/* Detach the handler (before the testbed goes). */
void usbserial_stop(void);

#endif
