/*
 * instruments/sim/usbfs.c - the emulated PM100D on a umockdev testbed (see
 * usbfs.h). libusb submits every transfer as an URB (SUBMITURB) and
 * collects it with REAPURBNDELAY after poll() on the device node; umockdev
 * forwards both ioctls here with access to the client's memory. An URB is
 * kept (with its resolved buffer) until the USBTMC function has data or an
 * answer for it, and handed back at the next reap with its status and
 * length written into the client's struct - the way the kernel's usbfs does.
 *
 * umockdev's node for a USB device is a plain file, so poll() always
 * reports it ready and libusb reaps in a loop while a transfer waits; an
 * empty reap is therefore answered after REAP_IDLE_MS, which bounds that
 * loop's rate without delaying any completion by more than that.
 *
 * Invariants: an URB is reaped exactly once (done) or discarded and then
 * reaped with -ENOENT, as libusb expects; after an unplug every URB and
 * every later ioctl of a handle opened before it fails with ENODEV, and a
 * handle opened after it finds the device fresh (re-plugged).
 */
#include "usbfs.h"

#include <errno.h>
#include <stddef.h>
#include <sys/ioctl.h>
#include <linux/usbdevice_fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <umockdev.h>
#include <unistd.h>

#define REAP_IDLE_MS 2
#define DEVPATH "/devices/pci0000:00/0000:00:14.0/usb1/1-1"

/* Device, configuration (one USBTMC/USB488 interface: bulk OUT 0x02, bulk
 * IN 0x81, interrupt IN 0x83), as a full-speed PM100D reports them. */
static const uint8_t dev_desc[18] = {
	18, 1, 0x00, 0x02, 0, 0, 0, 64, USBFS_VID & 0xff, USBFS_VID >> 8,
	USBFS_PID & 0xff, USBFS_PID >> 8, 0x00, 0x01, 1, 2, 3, 1};
static const uint8_t cfg_desc[39] = {
	9, 2, 39, 0, 1, 1, 0, 0x80, 50,
	9, 4, 0, 0, 3, 0xfe, 0x03, 0x01, 0,
	7, 5, 0x02, 2, 64, 0, 0,
	7, 5, 0x81, 2, 64, 0, 0,
	7, 5, 0x83, 3, 8, 0, 10};
static const char *const strings[4] = {NULL, "Thorlabs", "PM100D", USBFS_SERIAL};

typedef struct urb {
	UMockdevIoctlData *data;   /* the client's struct, buffer resolved */
	struct urb *next;
} urb;

/* One open of the device node. */
typedef struct client {
	unsigned gen;              /* the device's generation at open */
	urb *pending, *done;
} client;

static struct {
	UMockdevTestbed *tb;
	UMockdevIoctlBase *handler;
	char *dir;
	usbtmc_dev dev;
	unsigned gen;              /* +1 at each unplug */
	UMockdevIoctlClient *holder;  /* has claimed interface 0 (a ref) */
} U;

static struct usbdevfs_urb *urb_of(urb *u)
{
	return (struct usbdevfs_urb *)u->data->data;
}

static void push(urb **list, urb *u)
{
	u->next = NULL;
	while (*list)
		list = &(*list)->next;
	*list = u;
}

static client *client_of(UMockdevIoctlClient *c)
{
	client *cl = g_object_get_data(G_OBJECT(c), "kgd-usbfs");

	if (!cl) {
		cl = g_new0(client, 1);
		cl->gen = U.gen;
		g_object_set_data_full(G_OBJECT(c), "kgd-usbfs", cl, g_free);
	}
	return cl;
}

static void finish(client *cl, urb **from, urb *u, int status, int actual)
{
	for (; *from; from = &(*from)->next)
		if (*from == u) {
			*from = u->next;
			break;
		}
	urb_of(u)->status = status;
	urb_of(u)->actual_length = actual;
	push(&cl->done, u);
}

/* A control transfer: standard GET_DESCRIPTOR, or a USBTMC class request. */
static int control(uint8_t *buf, int len, int *actual)
{
	uint8_t type = buf[0], req = buf[1], *data = buf + 8;
	uint16_t value = (uint16_t)(buf[2] | buf[3] << 8);
	uint16_t index = (uint16_t)(buf[4] | buf[5] << 8);
	uint16_t wlen = (uint16_t)(buf[6] | buf[7] << 8);
	size_t n = 0;

	if (len < 8 || wlen > len - 8)
		return -EINVAL;
	if (type == 0x80 && req == 6) {
		uint8_t s[128];
		const uint8_t *src = NULL;
		int di = value & 0xff;

		switch (value >> 8) {
		case 1: src = dev_desc; n = sizeof(dev_desc); break;
		case 2: src = cfg_desc; n = sizeof(cfg_desc); break;
		case 3:
			if (di == 0) {
				s[0] = 4, s[1] = 3, s[2] = 0x09, s[3] = 0x04;
				n = 4;
			} else if (di < 4) {
				n = 2;
				for (const char *p = strings[di]; *p; p++) {
					s[n++] = (uint8_t)*p;
					s[n++] = 0;
				}
				s[0] = (uint8_t)n, s[1] = 3;
			} else {
				return -EPIPE;
			}
			src = s;
			break;
		default:
			return -EPIPE;
		}
		if (n > wlen)
			n = wlen;
		memcpy(data, src, n);
	} else if ((type == 0xa1 || type == 0xa2) &&
		   usbtmc_dev_class_request(&U.dev, type, req, value, index, data, wlen,
					    &n) == 0) {
		/* answered */
	} else {
		return -EPIPE;
	}
	*actual = (int)n;
	return 0;
}

/* Unplug: every URB of every handle ends with ENODEV; handles opened from
 * now on meet a fresh device. */
static void unplug(void)
{
	U.gen++;
	U.dev.unplugged = 0;
	U.dev.in_halted = 0;
	U.dev.cmd_len = 0;
	if (U.holder) {
		g_object_unref(U.holder);
		U.holder = NULL;
	}
}

/* Give waiting Bulk-IN URBs of cl what the device has for them. */
static void serve_in(client *cl)
{
	while (cl->pending) {
		urb *u = cl->pending;
		struct usbdevfs_urb *s = urb_of(u);
		size_t n = 0;
		enum usbtmc_in_result r;

		if (!(s->endpoint & 0x80))
			return;   /* a NAKed Bulk-OUT goes first */
		r = usbtmc_dev_bulk_in(&U.dev, s->buffer, (size_t)s->buffer_length, &n);
		if (r == USBTMC_IN_PENDING)
			return;
		if (r == USBTMC_IN_UNPLUG) {
			unplug();
			while (cl->pending)
				finish(cl, &cl->pending, cl->pending, -ENODEV, 0);
			return;
		}
		finish(cl, &cl->pending, u, r == USBTMC_IN_STALL ? -EPIPE : 0, (int)n);
	}
}

static int submit(client *cl, UMockdevIoctlClient *c, int *err)
{
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(c);
	UMockdevIoctlData *d = umockdev_ioctl_data_resolve(arg, 0, sizeof(struct usbdevfs_urb),
							  NULL);
	struct usbdevfs_urb *s;
	UMockdevIoctlData *b = NULL;
	urb *u;
	int actual = 0, st = 0;

	if (!d) {
		*err = EFAULT;
		return -1;
	}
	s = (struct usbdevfs_urb *)d->data;
	if (s->buffer_length > 0)
		b = umockdev_ioctl_data_resolve(d, offsetof(struct usbdevfs_urb, buffer),
						(gsize)s->buffer_length, NULL);
	if (s->buffer_length > 0 && !b) {
		g_object_unref(d);
		*err = EFAULT;
		return -1;
	}
	if (b)
		g_object_unref(b);   /* d keeps it as its child */
	u = g_new0(urb, 1);
	u->data = d;
	if (s->type == USBDEVFS_URB_TYPE_CONTROL) {
		st = control(s->buffer, s->buffer_length, &actual);
		push(&cl->done, u);
		s->status = st;
		s->actual_length = actual;
		return 0;
	}
	if (s->type != USBDEVFS_URB_TYPE_BULK ||
	    (s->endpoint != 0x02 && s->endpoint != 0x81)) {
		g_object_unref(d);
		g_free(u);
		*err = EINVAL;
		return -1;
	}
	if (s->endpoint == 0x02) {
		st = usbtmc_dev_bulk_out(&U.dev, s->buffer, (size_t)s->buffer_length);
		if (st == 1) {   /* NAKed: waits until discarded */
			push(&cl->pending, u);
			return 0;
		}
		push(&cl->done, u);
		s->status = st ? -EPIPE : 0;
		s->actual_length = st ? 0 : s->buffer_length;
		return 0;
	}
	push(&cl->pending, u);
	serve_in(cl);
	return 0;
}

static gboolean reap_idle(gpointer c)
{
	umockdev_ioctl_client_complete(c, -1, EAGAIN);
	g_object_unref(c);
	return G_SOURCE_REMOVE;
}

/* REAPURB(NDELAY): hand back the oldest finished URB, or EAGAIN later. */
static gboolean reap(client *cl, UMockdevIoctlClient *c)
{
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(c), *p;
	urb *u;

	serve_in(cl);
	u = cl->done;
	if (!u) {
		GSource *src = g_timeout_source_new(REAP_IDLE_MS);

		g_source_set_callback(src, reap_idle, g_object_ref(c), NULL);
		g_source_attach(src, g_main_context_get_thread_default());
		g_source_unref(src);
		return TRUE;
	}
	cl->done = u->next;
	p = umockdev_ioctl_data_resolve(arg, 0, sizeof(void *), NULL);
	if (!p) {
		umockdev_ioctl_client_complete(c, -1, EFAULT);
		return TRUE;
	}
	umockdev_ioctl_data_set_ptr(p, 0, u->data);
	umockdev_ioctl_client_complete(c, 0, 0);
	g_object_unref(p);
	g_object_unref(u->data);
	g_free(u);
	return TRUE;
}

static int discard(client *cl, UMockdevIoctlClient *c, int *err)
{
	gulong addr = *(gulong *)umockdev_ioctl_client_get_arg(c)->data;

	for (urb *u = cl->pending; u; u = u->next)
		if (u->data->client_addr == addr) {
			finish(cl, &cl->pending, u, -ENOENT, 0);
			return 0;
		}
	*err = EINVAL;
	return -1;
}

/* Interface 0 for c, unless another open handle holds it. */
static int claim(UMockdevIoctlClient *c, unsigned ifnum, int *err)
{
	if (ifnum != 0) {
		*err = ENOENT;
		return -1;
	}
	if (U.holder && U.holder != c && umockdev_ioctl_client_get_connected(U.holder) &&
	    client_of(U.holder)->gen == U.gen) {
		*err = EBUSY;
		return -1;
	}
	if (U.holder != c) {
		if (U.holder)
			g_object_unref(U.holder);
		U.holder = g_object_ref(c);
	}
	return 0;
}

static unsigned arg_uint(UMockdevIoctlClient *c)
{
	UMockdevIoctlData *d = umockdev_ioctl_data_resolve(umockdev_ioctl_client_get_arg(c),
							  0, sizeof(unsigned), NULL);
	unsigned v = d ? *(unsigned *)d->data : ~0u;

	if (d)
		g_object_unref(d);
	return v;
}

static gboolean on_ioctl(UMockdevIoctlBase *h, UMockdevIoctlClient *c, gpointer user)
{
	client *cl = client_of(c);
	gulong req = umockdev_ioctl_client_get_request(c);
	int rc = 0, err = 0;

	(void)h;
	(void)user;
	if (cl->gen != U.gen && req != USBDEVFS_REAPURBNDELAY && req != USBDEVFS_REAPURB) {
		umockdev_ioctl_client_complete(c, -1, ENODEV);
		return TRUE;
	}
	switch (req) {
	case USBDEVFS_GET_CAPABILITIES: {
		UMockdevIoctlData *d = umockdev_ioctl_data_resolve(
			umockdev_ioctl_client_get_arg(c), 0, sizeof(uint32_t), NULL);

		if (d) {
			*(uint32_t *)d->data = USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
					       USBDEVFS_CAP_BULK_CONTINUATION;
			g_object_unref(d);
		}
		break;
	}
	case USBDEVFS_SUBMITURB:
		rc = submit(cl, c, &err);
		break;
	case USBDEVFS_REAPURB:
	case USBDEVFS_REAPURBNDELAY:
		if (!cl->done && cl->gen != U.gen) {
			rc = -1, err = ENODEV;
			break;
		}
		return reap(cl, c);
	case USBDEVFS_DISCARDURB:
		rc = discard(cl, c, &err);
		break;
	case USBDEVFS_DISCONNECT_CLAIM: {
		UMockdevIoctlData *d = umockdev_ioctl_data_resolve(
			umockdev_ioctl_client_get_arg(c), 0,
			sizeof(struct usbdevfs_disconnect_claim), NULL);
		unsigned ifnum = d ? ((struct usbdevfs_disconnect_claim *)d->data)->interface : 1;

		if (d)
			g_object_unref(d);
		rc = claim(c, ifnum, &err);
		break;
	}
	case USBDEVFS_CLAIMINTERFACE:
		rc = claim(c, arg_uint(c), &err);
		break;
	case USBDEVFS_RELEASEINTERFACE:
		if (U.holder == c) {
			g_object_unref(U.holder);
			U.holder = NULL;
		}
		break;
	case USBDEVFS_CLEAR_HALT:
		usbtmc_dev_clear_halt(&U.dev, arg_uint(c));
		break;
	case USBDEVFS_GETDRIVER:
	case USBDEVFS_IOCTL:
		rc = -1, err = ENODATA;  /* no kernel driver bound */
		break;
	case USBDEVFS_SETINTERFACE:
	case USBDEVFS_SETCONFIGURATION:
	case USBDEVFS_RESET:
		break;
	default:
		rc = -1, err = ENOTTY;
	}
	umockdev_ioctl_client_complete(c, rc, rc < 0 ? err : 0);
	return TRUE;
}

static char *hex(const uint8_t *p, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
	return out;
}

int usbfs_start(void)
{
	U.dev.backend = -1;
	U.tb = umockdev_testbed_new();
	U.dir = umockdev_testbed_get_root_dir(U.tb);
	return U.tb ? 0 : -1;
}

UMockdevTestbed *usbfs_testbed(void)
{
	return U.tb;
}

int usbfs_add_usbtmc(int pm100_port, const usbtmc_dev_fault *faults, int n_faults,
		     size_t max_transfer, FILE *log)
{
	char desc[2 * (sizeof(dev_desc) + sizeof(cfg_desc)) + 1], *text;
	GError *e = NULL;

	U.dev.max_transfer = max_transfer;
	U.dev.log = log;
	memcpy(U.dev.faults, faults, sizeof(*faults) * (size_t)n_faults);
	U.dev.n_faults = n_faults;
	if (usbtmc_dev_connect(&U.dev, pm100_port) != 0) {
		fprintf(stderr, "kgd-vstation: usb: cannot reach the pm100 on port %d: %s\n",
			pm100_port, strerror(errno));
		return -1;
	}
	hex(dev_desc, sizeof(dev_desc), desc);
	hex(cfg_desc, sizeof(cfg_desc), desc + 2 * sizeof(dev_desc));
	text = g_strdup_printf(
		"P: " DEVPATH "\nN: bus/usb/001/002\nE: SUBSYSTEM=usb\nE: DEVTYPE=usb_device\n"
		"E: DEVNAME=/dev/bus/usb/001/002\nE: BUSNUM=001\nE: DEVNUM=002\n"
		"E: PRODUCT=1313/8078/100\nE: ID_VENDOR_ID=1313\nE: ID_MODEL_ID=8078\n"
		"E: ID_SERIAL_SHORT=" USBFS_SERIAL "\n"
		"A: busnum=1\nA: devnum=2\nA: speed=12\nA: idVendor=1313\nA: idProduct=8078\n"
		"A: bcdDevice=0100\nA: manufacturer=Thorlabs\nA: product=PM100D\n"
		"A: serial=" USBFS_SERIAL "\nA: bConfigurationValue=1\nA: bNumConfigurations=1\n"
		"A: bNumInterfaces= 1\nA: bDeviceClass=00\nA: maxchild=0\n"
		"H: descriptors=%s\n",
		desc);
	if (!umockdev_testbed_add_from_string(U.tb, text, &e)) {
		fprintf(stderr, "kgd-vstation: usb: cannot add the device: %s\n", e->message);
		g_error_free(e);
		g_free(text);
		return -1;
	}
	g_free(text);
	U.handler = umockdev_ioctl_base_new();
	g_signal_connect(U.handler, "handle-ioctl", G_CALLBACK(on_ioctl), NULL);
	if (!umockdev_testbed_attach_ioctl(U.tb, "/dev/bus/usb/001/002", U.handler, &e)) {
		fprintf(stderr, "kgd-vstation: usb: cannot attach the handler: %s\n", e->message);
		g_error_free(e);
		return -1;
	}
	return 0;
}

const char *usbfs_dir(void)
{
	return U.dir;
}

pid_t usbfs_spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid != 0)
		return pid;
	{
		const char *pre = getenv("LD_PRELOAD"), *asan = getenv("ASAN_OPTIONS");
		char *v = g_strdup_printf("libumockdev-preload.so.0%s%s", pre && *pre ? ":" : "",
					  pre ? pre : "");

		setenv("LD_PRELOAD", v, 1);
		v = g_strdup_printf("%s%sverify_asan_link_order=0", asan ? asan : "",
				    asan && *asan ? ":" : "");
		setenv("ASAN_OPTIONS", v, 1);
		setenv("UMOCKDEV_DIR", U.dir, 1);
		execvp(argv[0], argv);
		fprintf(stderr, "kgd-vstation: cannot run %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
}

void usbfs_stop(void)
{
	if (U.tb) {
		if (U.holder)
			g_object_unref(U.holder);
		U.holder = NULL;
		if (U.handler)
			umockdev_testbed_detach_ioctl(U.tb, "/dev/bus/usb/001/002", NULL);
		g_object_unref(U.tb);
		U.tb = NULL;
	}
	if (U.handler)
		g_object_unref(U.handler);
	U.handler = NULL;
	g_free(U.dir);
	U.dir = NULL;
	usbtmc_dev_close(&U.dev);
}
