/*
 * instruments/sim/usbserial.c - the emulated USB-serial adapter (see
 * usbserial.h). umockdev backs a tty node with a pty; what a pty cannot do
 * is what a real adapter's driver adds: modem control lines. libserialport
 * reads them in sp_open (TIOCMGET; a failure is fatal there) and sets RTS
 * and DTR (TIOCMBIS/TIOCMBIC), so this handler keeps the lines' state and
 * passes every other ioctl (termios, TIOCEXCL, TIOCINQ, flushes) to the
 * real pty through umockdev_ioctl_client_execute.
 *
 * Invariant: the handler only ever answers the modem-line ioctls itself;
 * terminal behaviour is the kernel's pty, so raw mode, timeouts and reads
 * behave as on any tty.
 */
#include "usbserial.h"
#include "usbfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <umockdev.h>
#include <unistd.h>

#define USB_DEV "/devices/pci0000:00/0000:00:14.0/usb1/1-2"

static UMockdevIoctlBase *handler;
static FILE *log;
static int modem_lines = TIOCM_DTR | TIOCM_RTS | TIOCM_CTS | TIOCM_DSR | TIOCM_CD;

/* FT232R: device descriptor, one configuration with one vendor-specific
 * interface (bulk IN 0x81, bulk OUT 0x02). */
static const uint8_t descriptors[18 + 32] = {
	18, 1, 0x00, 0x02, 0, 0, 0, 8, 0x03, 0x04, 0x01, 0x60, 0x00, 0x06, 1, 2, 3, 1,
	9, 2, 32, 0, 1, 1, 0, 0xa0, 45,
	9, 4, 0, 0, 2, 0xff, 0xff, 0xff, 2,
	7, 5, 0x81, 2, 64, 0, 0,
	7, 5, 0x02, 2, 64, 0, 0};

static gboolean on_ioctl(UMockdevIoctlBase *h, UMockdevIoctlClient *c, gpointer user)
{
	gulong req = umockdev_ioctl_client_get_request(c);
	UMockdevIoctlData *d;
	int e = 0, rc;

	(void)h;
	(void)user;
	if (req == TIOCMGET || req == TIOCMSET || req == TIOCMBIS || req == TIOCMBIC) {
		d = umockdev_ioctl_data_resolve(umockdev_ioctl_client_get_arg(c), 0,
						sizeof(int), NULL);
		if (!d) {
			umockdev_ioctl_client_complete(c, -1, EFAULT);
			return TRUE;
		}
		if (log) {
			fprintf(log, "%s 0x%03x\n", req == TIOCMGET ? "TIOCMGET" : req == TIOCMSET
				? "TIOCMSET" : req == TIOCMBIS ? "TIOCMBIS" : "TIOCMBIC",
				req == TIOCMGET ? (unsigned)modem_lines : *(unsigned *)d->data);
			fflush(log);
		}
		if (req == TIOCMGET)
			*(int *)d->data = modem_lines;
		else if (req == TIOCMSET)
			modem_lines = *(int *)d->data;
		else if (req == TIOCMBIS)
			modem_lines |= *(int *)d->data;
		else
			modem_lines &= ~*(int *)d->data;
		g_object_unref(d);
		umockdev_ioctl_client_complete(c, 0, 0);
		return TRUE;
	}
	rc = umockdev_ioctl_client_execute(c, &e, NULL);
	umockdev_ioctl_client_complete(c, rc, rc < 0 ? e : 0);
	return TRUE;
}

int usbserial_add(int *master, int *slave, FILE *log_to)
{
	UMockdevTestbed *tb = usbfs_testbed();
	char desc[2 * sizeof(descriptors) + 1], *text, node[1024], pts[256];
	GError *err = NULL;
	struct termios t;
	ssize_t n;

	log = log_to;

	for (size_t i = 0; i < sizeof(descriptors); i++)
		sprintf(desc + 2 * i, "%02x", descriptors[i]);
	text = g_strdup_printf(
		"P: " USB_DEV "/1-2:1.0/ttyUSB0/tty/ttyUSB0\nN: ttyUSB0\nE: SUBSYSTEM=tty\n"
		"E: DEVNAME=" USBSERIAL_NODE "\nE: MAJOR=188\nE: MINOR=0\n"
		"L: device=../../../ttyUSB0\n\n"
		"P: " USB_DEV "/1-2:1.0/ttyUSB0\nE: SUBSYSTEM=usb-serial\nE: DRIVER=ftdi_sio\n\n"
		"P: " USB_DEV "/1-2:1.0\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_interface\n"
		"E: DRIVER=ftdi_sio\nA: bInterfaceClass=ff\nA: bInterfaceNumber=00\n\n"
		"P: " USB_DEV "\nN: bus/usb/001/003\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\n"
		"E: DEVNAME=/dev/bus/usb/001/003\nE: BUSNUM=001\nE: DEVNUM=003\n"
		"A: busnum=1\nA: devnum=3\nA: speed=12\nA: idVendor=0403\nA: idProduct=6001\n"
		"A: manufacturer=FTDI\nA: product=FT232R USB UART\nA: serial=" USBSERIAL_SERIAL "\n"
		"A: bConfigurationValue=1\nA: bNumConfigurations=1\nA: bNumInterfaces= 1\n"
		"H: descriptors=%s\n",
		desc);
	if (!tb || !umockdev_testbed_add_from_string(tb, text, &err)) {
		fprintf(stderr, "kgd-vstation: usb: cannot add %s: %s\n", USBSERIAL_NODE,
			err ? err->message : "no testbed");
		g_clear_error(&err);
		g_free(text);
		return -1;
	}
	g_free(text);
	handler = umockdev_ioctl_base_new();
	g_signal_connect(handler, "handle-ioctl", G_CALLBACK(on_ioctl), NULL);
	if (!umockdev_testbed_attach_ioctl(tb, USBSERIAL_NODE, handler, &err)) {
		fprintf(stderr, "kgd-vstation: usb: cannot attach to %s: %s\n", USBSERIAL_NODE,
			err->message);
		g_error_free(err);
		return -1;
	}
	/* The node is a symlink to the pty's slave; keep one open. */
	snprintf(node, sizeof(node), "%s/dev/ttyUSB0", usbfs_dir());
	n = readlink(node, pts, sizeof(pts) - 1);
	*master = umockdev_testbed_get_dev_fd(tb, USBSERIAL_NODE);
	if (n <= 0 || *master < 0) {
		fprintf(stderr, "kgd-vstation: usb: no pty behind %s\n", USBSERIAL_NODE);
		return -1;
	}
	pts[n] = '\0';
	*slave = open(pts, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (*slave < 0) {
		fprintf(stderr, "kgd-vstation: usb: cannot open %s: %s\n", pts, strerror(errno));
		return -1;
	}
	/* Raw on the instrument's side, as the simulators' own ptys. */
	if (tcgetattr(*master, &t) == 0) {
		cfmakeraw(&t);
		tcsetattr(*master, TCSANOW, &t);
	}
	return 0;
}

void usbserial_stop(void)
{
	if (handler && usbfs_testbed())
		umockdev_testbed_detach_ioctl(usbfs_testbed(), USBSERIAL_NODE, NULL);
	if (handler)
		g_object_unref(handler);
	handler = NULL;
}
