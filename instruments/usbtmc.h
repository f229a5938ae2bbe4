/*
 * instruments/usbtmc.h - USBTMC bulk framing as pure functions (no I/O), so
 * every byte of the wire format is testable without a USB device.
 *
 * Layout (USBTMC 1.0, section 3): every bulk message starts with a 12-byte
 * little-endian header
 *   [0] MsgID  [1] bTag  [2] ~bTag  [3] 0  [4..7] TransferSize
 *   [8] bmTransferAttributes  [9] TermChar (REQUEST_IN only)  [10..11] 0
 * and a DEV_DEP_MSG_OUT payload is padded with zeros to a multiple of 4.
 *
 * Invariant: a reply is accepted only if its MsgID and bTag match the
 * request it answers; stale or foreign data is a protocol error, never
 * mistaken for the reply.
 */
#ifndef KGD_USBTMC_H
#define KGD_USBTMC_H

#include <stddef.h>
#include <stdint.h>

#include "kgd/status.h"

#define USBTMC_HEADER_SIZE 12

/* MsgIDs */
#define USBTMC_DEV_DEP_MSG_OUT 1
#define USBTMC_REQUEST_DEV_DEP_MSG_IN 2
#define USBTMC_DEV_DEP_MSG_IN 2

/* bmTransferAttributes */
#define USBTMC_ATTR_EOM 0x01
#define USBTMC_ATTR_TERMCHAR 0x02

/* Class-specific control requests and status values. */
#define USBTMC_REQ_INITIATE_ABORT_BULK_OUT 1
#define USBTMC_REQ_CHECK_ABORT_BULK_OUT_STATUS 2
#define USBTMC_REQ_INITIATE_ABORT_BULK_IN 3
#define USBTMC_REQ_CHECK_ABORT_BULK_IN_STATUS 4
#define USBTMC_REQ_INITIATE_CLEAR 5
#define USBTMC_REQ_CHECK_CLEAR_STATUS 6
#define USBTMC_REQ_GET_CAPABILITIES 7
#define USBTMC_STATUS_SUCCESS 0x01
#define USBTMC_STATUS_PENDING 0x02
#define USBTMC_STATUS_FAILED 0x80

/* Interface class/subclass that marks a USBTMC interface. */
#define USBTMC_IF_CLASS 0xFE
#define USBTMC_IF_SUBCLASS 0x03

/* The tag after b: 1..255, wrapping 255 -> 1; 0 is never used. */
uint8_t usbtmc_next_btag(uint8_t b);

/* Size of a DEV_DEP_MSG_OUT carrying len payload bytes (header + padding). */
size_t usbtmc_out_size(size_t len);

/* Build a DEV_DEP_MSG_OUT in dst (cap bytes): header, payload, zero padding
 * to a multiple of 4. eom sets bit 0 of the attributes (last message of a
 * command). *out_len receives the bytes to send. */
int usbtmc_build_out(uint8_t *dst, size_t cap, uint8_t btag, const void *payload,
		     size_t len, int eom, size_t *out_len, kgd_err *err);

/* Build the 12-byte REQUEST_DEV_DEP_MSG_IN asking for up to max_len bytes.
 * term_char < 0 disables TermChar; 0..255 enables it. */
void usbtmc_build_request_in(uint8_t hdr[USBTMC_HEADER_SIZE], uint8_t btag,
			     uint32_t max_len, int term_char);

/* Check a bulk-IN header (len bytes available) against the bTag of the
 * request: MsgID must be DEV_DEP_MSG_IN, bTag and ~bTag must match. */
int usbtmc_parse_in_header(const uint8_t *buf, size_t len, uint8_t btag,
			   uint32_t *transfer_size, int *eom, kgd_err *err);

/* Reassembly of one bulk-IN transfer that arrives in several USB reads. */
struct usbtmc_in {
	uint8_t btag;
	int have_header;
	int eom;
	uint32_t expected;   /* TransferSize from the header */
	size_t got;          /* payload bytes copied so far */
};

void usbtmc_in_begin(struct usbtmc_in *st, uint8_t btag);

/* Feed the bytes of one USB read. The first chunk must hold the header.
 * Payload goes to out[st->got..] (out_cap bytes in all); alignment padding
 * after TransferSize bytes is dropped. KGD_ERR_PROTOCOL if the header is bad
 * or the payload would not fit out_cap. */
int usbtmc_in_feed(struct usbtmc_in *st, const uint8_t *chunk, size_t n,
		   uint8_t *out, size_t out_cap, kgd_err *err);

/* 1 once the whole TransferSize has arrived. */
int usbtmc_in_done(const struct usbtmc_in *st);

/* Call when the device ended the transfer (short packet): KGD_OK if all of
 * TransferSize arrived, else KGD_ERR_PROTOCOL naming both counts. */
int usbtmc_in_finish(const struct usbtmc_in *st, kgd_err *err);

#endif
