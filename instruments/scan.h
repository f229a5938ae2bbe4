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

/* One enumeration ("serial" or "usbtmc") that could not run, and why. */
typedef void (*xport_scan_fail_cb)(const char *kind, const char *why, void *user);

/* Report each serial port (libserialport) and USBTMC device (libusb) to cb.
 * The two enumerations are independent: one that fails is reported to
 * fail (may be NULL) and the other still runs. A machine with no devices
 * (or with no USB access at all, as in a container) never calls cb.
 * KGD_OK when at least one enumeration ran; otherwise the error names
 * both failures. */
int xport_scan(xport_scan_cb cb, xport_scan_fail_cb fail, void *user, kgd_err *err);

#endif
