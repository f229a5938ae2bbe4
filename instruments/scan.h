/*
 * instruments/scan.h - discovery of attached instruments for `station scan`:
 * every serial port and every USBTMC interface, each with the URI to paste
 * into a station config. Not installed: only the station calls it.
 */
#ifndef KGD_SCAN_H
#define KGD_SCAN_H

#include "kgd/status.h"

/* One found device. All strings are owned by the scanner and valid only
 * during the callback; copy what you keep. */
typedef struct xport_scan_dev {
	const char *kind;         /* "serial" or "usbtmc" */
	const char *uri;          /* e.g. serial:///dev/ttyUSB0?baud=9600 */
	const char *description;  /* product / port description, never NULL */
	int usb_vid, usb_pid;     /* -1 when not a USB device or unknown */
	const char *serial;       /* USB serial number, "" when unknown */
} xport_scan_dev;

typedef void (*xport_scan_cb)(const xport_scan_dev *dev, void *user);

/* Report each serial port (libserialport) and USBTMC device (libusb) to cb.
 * A machine with none (or with no USB access at all, as in a container)
 * never calls cb and returns KGD_OK. */
int xport_scan(xport_scan_cb cb, void *user, kgd_err *err);

#endif
