/*
 * instruments/sim/usbtmc_dev.h - the USBTMC 1.0 function of the emulated
 * PM100D: what the device does with the bytes of its Bulk-OUT endpoint,
 * what it puts on Bulk-IN, and how it answers the class control requests.
 * No USB plumbing here (usbfs.c moves URBs); the SCPI behind it is the
 * virtual station's pm100 endpoint, reached over its 127.0.0.1 socket, so
 * the instrument answers over USB exactly as it does over TCP (the same
 * command set, latency, --fault pm100:... faults and busy statistics).
 *
 * Invariants: a reply goes out only against a REQUEST_DEV_DEP_MSG_IN and
 * carries that request's bTag; after an abort or a clear nothing of the
 * abandoned message is ever sent; the USB-level faults (--usb-fault) fire
 * once, at the Bulk-IN transfer after the given number of commands (a
 * Bulk-OUT fault at that command's transfer).
 */
#ifndef KGD_SIM_USBTMC_DEV_H
#define KGD_SIM_USBTMC_DEV_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum usbtmc_dev_fault_kind {
	USBTMC_FAULT_STALL,      /* Bulk-IN halts (EPIPE) until CLEAR_HALT */
	USBTMC_FAULT_BTAG,       /* the reply carries the wrong bTag */
	USBTMC_FAULT_SHORT,      /* the reply ends before its TransferSize */
	USBTMC_FAULT_ZLP,        /* a zero-length packet instead of the reply */
	USBTMC_FAULT_UNPLUG,     /* the device goes away mid-transfer (ENODEV) */
	USBTMC_FAULT_NAK_OUT,    /* a command's Bulk-OUT is never accepted */
	USBTMC_FAULT_KINDS
};

#define USBTMC_DEV_MAX_FAULTS 8

typedef struct usbtmc_dev_fault {
	enum usbtmc_dev_fault_kind kind;
	long after;              /* fires at the reply to command after+1
	                            (nak-out: at the command after+1 itself) */
	int fired;
} usbtmc_dev_fault;

/* What a Bulk-IN transfer ends with. */
enum usbtmc_in_result {
	USBTMC_IN_PENDING,       /* nothing to send yet: the URB waits */
	USBTMC_IN_DATA,          /* *n bytes in the buffer */
	USBTMC_IN_STALL,         /* the endpoint is halted */
	USBTMC_IN_UNPLUG,        /* the device is gone */
};

typedef struct usbtmc_dev {
	int backend;             /* socket to the pm100 endpoint */
	int port;                /* its port, to reconnect after an abort */
	size_t max_transfer;     /* payload bytes per DEV_DEP_MSG_IN (0: any) */
	FILE *log;               /* one line per class request / fault, or NULL */
	usbtmc_dev_fault faults[USBTMC_DEV_MAX_FAULTS];
	int n_faults;
	long commands;           /* DEV_DEP_MSG_OUT messages ended with EOM */
	/* Bulk-OUT: the command being assembled */
	char cmd[4096];
	size_t cmd_len;
	uint8_t last_out_btag;
	/* Bulk-IN: the open REQUEST_DEV_DEP_MSG_IN, and what answers it */
	int req_open;
	uint8_t req_btag;
	uint32_t req_max;
	char reply[8192];        /* from the backend, not yet sent */
	size_t reply_len;
	uint8_t in_msg[8192 + 16];   /* the DEV_DEP_MSG_IN being sent */
	size_t in_len, in_off;
	int in_halted;
	int unplugged;
	int abort_in_pending, abort_out_pending;
	int out_held;            /* a Bulk-OUT transfer is being NAKed */
} usbtmc_dev;

/* Parse "KIND[:after=N]" (stall, btag, short, zlp, unplug, nak-out) into
 * d. 0 / -1. */
int usbtmc_dev_add_fault(usbtmc_dev *d, const char *spec);

/* Connect to the pm100 endpoint at 127.0.0.1:port. 0 / -1 (errno). */
int usbtmc_dev_connect(usbtmc_dev *d, int port);
void usbtmc_dev_close(usbtmc_dev *d);

/* One Bulk-OUT transfer (len bytes). 0 accepted; 1 not accepted (NAKed:
 * the URB waits until the host gives up and aborts); -1 the endpoint
 * halts (bad header, as the spec asks). */
int usbtmc_dev_bulk_out(usbtmc_dev *d, const uint8_t *buf, size_t len);

/* Fill a Bulk-IN transfer of cap bytes, if the device has something. */
enum usbtmc_in_result usbtmc_dev_bulk_in(usbtmc_dev *d, uint8_t *buf, size_t cap,
					 size_t *n);

/* CLEAR_FEATURE(ENDPOINT_HALT) on ep. */
void usbtmc_dev_clear_halt(usbtmc_dev *d, unsigned ep);

/* A class request (bmRequestType 0xA1/0xA2). The answer goes to data
 * (wLength bytes at most); *n gets its length. -1: not a request of this
 * class (the control pipe stalls). */
int usbtmc_dev_class_request(usbtmc_dev *d, uint8_t type, uint8_t req,
			     uint16_t value, uint16_t index, uint8_t *data,
			     uint16_t wlength, size_t *n);

#endif
