/*
 * instruments/scan.c - find serial ports and USBTMC instruments (scan.h).
 *
 * Invariant: discovery is best effort and side-effect free. It opens no
 * serial port, and a USB device it cannot open (permissions) is still
 * reported, just without its serial number; only running out of memory
 * or a failing enumeration API is an error, and that error belongs to its
 * own enumeration: one failing never hides what the other found.
 */
#include "scan.h"
#include "usbtmc.h"

#include <libserialport.h>
#include <libusb.h>
#include <stdio.h>
#include <string.h>

static int scan_serial(xport_scan_cb cb, void *user, kgd_err *err)
{
	struct sp_port **ports = NULL;
	enum sp_return r = sp_list_ports(&ports);

	if (r != SP_OK) {
		char *why = r == SP_ERR_FAIL ? sp_last_error_message() : NULL;
		int rc = kgd_err_set(err, r == SP_ERR_MEM ? KGD_ERR_NOMEM : KGD_ERR_IO,
				     "cannot list serial ports (libserialport: %s)",
				     why ? why : r == SP_ERR_MEM ? "out of memory"
						  : "enumeration failed");

		sp_free_error_message(why);
		return rc;
	}
	for (size_t i = 0; ports[i]; i++) {
		struct sp_port *p = ports[i];
		const char *name = sp_get_port_name(p), *desc, *sn = NULL;
		char uri[512];
		xport_scan_dev d = {.kind = "serial", .usb_vid = -1, .usb_pid = -1,
				    .serial = ""};

		/* 9600 is only a placeholder: the port cannot tell its rate. */
		snprintf(uri, sizeof(uri), "serial://%s?baud=9600", name);
		desc = sp_get_port_description(p);
		d.uri = uri;
		d.description = desc ? desc : name;
		if (sp_get_port_transport(p) == SP_TRANSPORT_USB) {
			sp_get_port_usb_vid_pid(p, &d.usb_vid, &d.usb_pid);
			sn = sp_get_port_usb_serial(p);
		}
		d.serial = sn ? sn : "";
		cb(&d, user);
	}
	sp_free_port_list(ports);
	return KGD_OK;
}

/* 1 if dev has a USBTMC interface (class FE, subclass 03) in any config. */
static int scan_is_usbtmc(libusb_device *dev, int nconfigs)
{
	int found = 0;

	for (int c = 0; c < nconfigs && !found; c++) {
		struct libusb_config_descriptor *cfg;

		if (libusb_get_config_descriptor(dev, (uint8_t)c, &cfg) != 0)
			continue;
		for (int i = 0; i < cfg->bNumInterfaces && !found; i++)
			for (int a = 0; a < cfg->interface[i].num_altsetting; a++) {
				const struct libusb_interface_descriptor *d =
					&cfg->interface[i].altsetting[a];

				if (d->bInterfaceClass == USBTMC_IF_CLASS &&
				    d->bInterfaceSubClass == USBTMC_IF_SUBCLASS)
					found = 1;
			}
		libusb_free_config_descriptor(cfg);
	}
	return found;
}

static int scan_usbtmc(xport_scan_cb cb, void *user, kgd_err *err)
{
	libusb_context *ctx = NULL;
	libusb_device **list = NULL;
	ssize_t n;

	/* No USB at all (no /dev/bus/usb in a container): nothing attached. */
	if (libusb_init(&ctx) != 0)
		return KGD_OK;
	n = libusb_get_device_list(ctx, &list);
	if (n < 0) {
		libusb_exit(ctx);
		return kgd_err_set(err, n == LIBUSB_ERROR_NO_MEM ? KGD_ERR_NOMEM : KGD_ERR_IO,
				   "cannot list USB devices (libusb: %s)",
				   libusb_strerror((int)n));
	}
	for (ssize_t i = 0; i < n; i++) {
		struct libusb_device_descriptor dd;
		libusb_device_handle *h = NULL;
		unsigned char sn[128] = "", prod[128] = "";
		char uri[200];
		xport_scan_dev d = {.kind = "usbtmc"};

		if (libusb_get_device_descriptor(list[i], &dd) != 0 ||
		    !scan_is_usbtmc(list[i], dd.bNumConfigurations))
			continue;
		if (libusb_open(list[i], &h) == 0) {
			if (dd.iSerialNumber)
				libusb_get_string_descriptor_ascii(h, dd.iSerialNumber, sn,
								   sizeof(sn));
			if (dd.iProduct)
				libusb_get_string_descriptor_ascii(h, dd.iProduct, prod,
								   sizeof(prod));
			libusb_close(h);
		}
		if (sn[0])
			snprintf(uri, sizeof(uri), "usbtmc://%04x:%04x/%s", dd.idVendor,
				 dd.idProduct, (char *)sn);
		else
			snprintf(uri, sizeof(uri), "usbtmc://%04x:%04x", dd.idVendor,
				 dd.idProduct);
		d.uri = uri;
		d.description = prod[0] ? (const char *)prod : "USBTMC device";
		d.usb_vid = dd.idVendor;
		d.usb_pid = dd.idProduct;
		d.serial = (const char *)sn;
		cb(&d, user);
	}
	/* An empty list (n == 0) is still an allocation. */
	libusb_free_device_list(list, 1);
	libusb_exit(ctx);
	return KGD_OK;
}

int xport_scan(xport_scan_cb cb, xport_scan_fail_cb fail, void *user, kgd_err *err)
{
	static const char *const kinds[2] = {"serial", "usbtmc"};
	int (*const run[2])(xport_scan_cb, void *, kgd_err *) = {scan_serial, scan_usbtmc};
	kgd_err why[2];
	int rc[2];

	if (!cb)
		return kgd_err_set(err, KGD_ERR_ARG, "xport_scan: NULL callback");
	for (int i = 0; i < 2; i++) {
		kgd_err_clear(&why[i]);
		rc[i] = run[i](cb, user, &why[i]);
		if (rc[i] && fail)
			fail(kinds[i], why[i].msg, user);
	}
	if (rc[0] && rc[1])
		return kgd_err_set(err, rc[0], "scan: no enumeration worked: %s; %s",
				   why[0].msg, why[1].msg);
	return KGD_OK;
}
