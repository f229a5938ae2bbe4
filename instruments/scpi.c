/*
 * instruments/scpi.c - SCPI / IEEE 488.2 on top of any transport: command
 * and query with the command text in every error, the SYST:ERR? queue,
 * numbers with the "no valid value" rule, and definite-length blocks.
 *
 * Invariants: a number is accepted only if the whole reply is one SCPI
 * number (no trailing junk, no locale dependence, no hex or "inf" text),
 * and a no-valid-value reply (9.9E37, 9.91E37, NaN, |x| > 1e20) is
 * KGD_ERR_OVERRANGE, never a value; every error names URI and command.
 * The status returned is the failure's own, also for a NULL error context
 * (kgd_err_prefix only adds context: its return value is not used).
 */
#include "kgd/scpi.h"

#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Longest command text we format; SCPI commands are short, a longer one is
 * a caller bug, reported rather than truncated. */
#define SCPI_CMD_MAX 1024
/* SYST:ERR? entries drained per check; real queues hold 10..30. */
#define SCPI_ERR_DRAIN_MAX 32
/* Values above this magnitude are instrument sentinels, not measurements. */
#define SCPI_OVERRANGE_LIMIT 1e20

/* Longest command text an error quotes in full: a long compound message
 * (many lanes' settings in one line) is cut with "...", so the reason that
 * follows it always fits the error message. */
#define SCPI_CMD_QUOTE_MAX 160

static int quote_len(const char *cmd)
{
	size_t n = strlen(cmd);

	return (int)(n > SCPI_CMD_QUOTE_MAX ? SCPI_CMD_QUOTE_MAX : n);
}

static const char *quote_cut(const char *cmd)
{
	return strlen(cmd) > SCPI_CMD_QUOTE_MAX ? "..." : "";
}

/* Put "'cmd': " after the "URI: " that transport errors start with, so the
 * message reads "tcp://...: ':READ1:POW?': no reply within 2000 ms". */
static int scpi_name_cmd(xport *x, const char *cmd, int rc, kgd_err *err)
{
	const char *uri = xport_uri(x);
	size_t ulen = strlen(uri);
	char old[KGD_ERR_MSG_MAX];

	if (!err || !cmd)
		return rc;
	if (strncmp(err->msg, uri, ulen) == 0 && err->msg[ulen] == ':') {
		memcpy(old, err->msg, sizeof(old));
		snprintf(err->msg, sizeof(err->msg), "%s: '%.*s%s':%s", uri,
			 quote_len(cmd), cmd, quote_cut(cmd), old + ulen + 1);
	} else {
		kgd_err_prefix(err, "%s: '%.*s%s': ", uri, quote_len(cmd), cmd,
			       quote_cut(cmd));
	}
	err->status = rc;
	return rc;
}

static int scpi_vformat(xport *x, char *cmd, const char *fmt, va_list ap,
			kgd_err *err)
{
	int n = vsnprintf(cmd, SCPI_CMD_MAX, fmt, ap);

	if (n < 0 || n >= SCPI_CMD_MAX)
		return kgd_err_set(err, KGD_ERR_ARG, "%s: command '%.40s...' too long",
				   xport_uri(x), cmd);
	return KGD_OK;
}

static int scpi_send(xport *x, const char *cmd, kgd_err *err)
{
	int rc = xport_write_line(x, cmd, err);

	return rc ? scpi_name_cmd(x, cmd, rc, err) : KGD_OK;
}

/* Send cmd, read one reply line; trailing CR and blanks are dropped because
 * some instruments end replies in CRLF while accepting LF. */
static int scpi_exchange(xport *x, const char *cmd, char *reply, size_t cap,
			 kgd_err *err)
{
	size_t len = 0;
	int rc = scpi_send(x, cmd, err);

	if (rc)
		return rc;
	rc = xport_read_line(x, reply, cap, &len, err);
	if (rc)
		return scpi_name_cmd(x, cmd, rc, err);
	while (len && (reply[len - 1] == '\r' || reply[len - 1] == ' '))
		reply[--len] = '\0';
	return KGD_OK;
}

int scpi_write(xport *x, kgd_err *err, const char *fmt, ...)
{
	char cmd[SCPI_CMD_MAX];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = scpi_vformat(x, cmd, fmt, ap, err);
	va_end(ap);
	return rc ? rc : scpi_send(x, cmd, err);
}

int scpi_query(xport *x, char *reply, size_t cap, kgd_err *err, const char *fmt, ...)
{
	char cmd[SCPI_CMD_MAX];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = scpi_vformat(x, cmd, fmt, ap, err);
	va_end(ap);
	return rc ? rc : scpi_exchange(x, cmd, reply, cap, err);
}

int scpi_query_double(xport *x, double *out, kgd_err *err, const char *fmt, ...)
{
	char cmd[SCPI_CMD_MAX], reply[SCPI_REPLY_MAX];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = scpi_vformat(x, cmd, fmt, ap, err);
	va_end(ap);
	if (!rc)
		rc = scpi_exchange(x, cmd, reply, sizeof(reply), err);
	if (!rc && (rc = scpi_parse_double(reply, out, err)))
		kgd_err_prefix(err, "%s: '%s': ", xport_uri(x), cmd);
	return rc;
}

int scpi_query_long(xport *x, long *out, kgd_err *err, const char *fmt, ...)
{
	char cmd[SCPI_CMD_MAX], reply[SCPI_REPLY_MAX];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = scpi_vformat(x, cmd, fmt, ap, err);
	va_end(ap);
	if (!rc)
		rc = scpi_exchange(x, cmd, reply, sizeof(reply), err);
	if (!rc && (rc = scpi_parse_long(reply, out, err)))
		kgd_err_prefix(err, "%s: '%s': ", xport_uri(x), cmd);
	return rc;
}

int scpi_measure_double(xport *x, double *out, kgd_err *err, const char *fmt, ...)
{
	char query[SCPI_CMD_MAX], cmd[SCPI_CMD_MAX + 16], reply[SCPI_REPLY_MAX];
	char text[SCPI_REPLY_MAX];
	char *sep;
	va_list ap;
	int rc, code;

	va_start(ap, fmt);
	rc = scpi_vformat(x, query, fmt, ap, err);
	va_end(ap);
	if (rc)
		return rc;
	snprintf(cmd, sizeof(cmd), "%s;:SYST:ERR?", query);
	rc = scpi_exchange(x, cmd, reply, sizeof(reply), err);
	if (rc)
		return rc;
	/* IEEE 488.2 joins the replies of one message with ';'. A number never
	 * holds one, so the first ';' ends the value. */
	sep = strchr(reply, ';');
	if (!sep)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: '%s': expected '<value>;<error>', got '%s'",
				   xport_uri(x), cmd, reply);
	*sep++ = '\0';
	rc = scpi_parse_error(sep, &code, text, sizeof(text), err);
	if (rc) {
		kgd_err_prefix(err, "%s: '%s': ", xport_uri(x), cmd);
		return rc;
	}
	if (code != 0) {
		/* Report this error verbatim, then empty the queue behind it so
		 * the next command starts clean. */
		char first[SCPI_REPLY_MAX];
		kgd_err rest;

		snprintf(first, sizeof(first), "%s", sep);
		scpi_check_error(x, NULL, &rest);
		return kgd_err_set(err, KGD_ERR_INSTRUMENT, "%s: '%s': %s",
				   xport_uri(x), query, first);
	}
	rc = scpi_parse_double(reply, out, err);
	if (rc)
		kgd_err_prefix(err, "%s: '%s': ", xport_uri(x), query);
	return rc;
}

int scpi_check_error(xport *x, const char *after_cmd, kgd_err *err)
{
	char reply[SCPI_REPLY_MAX], first[SCPI_REPLY_MAX] = "";
	char text[SCPI_REPLY_MAX];
	int code, nerr = 0, drained = 0, rc;

	for (int i = 0; i < SCPI_ERR_DRAIN_MAX && !drained; i++) {
		rc = scpi_exchange(x, "SYST:ERR?", reply, sizeof(reply), err);
		if (rc)
			return rc;
		rc = scpi_parse_error(reply, &code, text, sizeof(text), err);
		if (rc) {
			kgd_err_prefix(err, "%s: 'SYST:ERR?': ", xport_uri(x));
			return rc;
		}
		if (code == 0)
			drained = 1;
		else if (nerr++ == 0)
			snprintf(first, sizeof(first), "%s", reply);
	}
	if (!nerr && drained)
		return KGD_OK;
	if (!nerr)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: 'SYST:ERR?': error queue did not drain in %d reads",
				   xport_uri(x), SCPI_ERR_DRAIN_MAX);
	/* The first error is the one the command caused; later ones are
	 * usually consequences, so they are only counted. */
	if (nerr > 1 || !drained)
		snprintf(text, sizeof(text), " (%d more%s)", nerr - 1,
			 drained ? "" : ", queue not drained");
	else
		text[0] = '\0';
	if (after_cmd)
		return kgd_err_set(err, KGD_ERR_INSTRUMENT, "%s: '%.*s%s': %s%s",
				   xport_uri(x), quote_len(after_cmd), after_cmd,
				   quote_cut(after_cmd), first, text);
	return kgd_err_set(err, KGD_ERR_INSTRUMENT, "%s: %s%s", xport_uri(x), first,
			   text);
}

int scpi_command(xport *x, kgd_err *err, const char *fmt, ...)
{
	char cmd[SCPI_CMD_MAX];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = scpi_vformat(x, cmd, fmt, ap, err);
	va_end(ap);
	if (!rc)
		rc = scpi_send(x, cmd, err);
	return rc ? rc : scpi_check_error(x, cmd, err);
}

void scpi_msg_init(scpi_msg *m)
{
	m->text[0] = '\0';
	m->len = 0;
	m->n_cmds = 0;
}

int scpi_msg_vadd(scpi_msg *m, const char *fmt, va_list ap)
{
	size_t sep = m->n_cmds ? 1 : 0, room = sizeof(m->text) - m->len;
	int n;

	if (room < sep + 1)
		return -1;
	if (sep)
		m->text[m->len] = ';';
	n = vsnprintf(m->text + m->len + sep, room - sep, fmt, ap);
	if (n < 0 || (size_t)n >= room - sep) {
		/* Never half a command on the wire. */
		m->text[m->len] = '\0';
		return -1;
	}
	m->len += sep + (size_t)n;
	m->n_cmds++;
	return 0;
}

int scpi_msg_add(scpi_msg *m, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = scpi_msg_vadd(m, fmt, ap);
	va_end(ap);
	return rc;
}

int scpi_msg_command(xport *x, scpi_msg *m, kgd_err *err)
{
	int rc = KGD_OK;

	if (m->n_cmds)
		rc = scpi_command(x, err, "%s", m->text);
	scpi_msg_init(m);
	return rc;
}

int scpi_parse_idn(const char *reply, struct scpi_idn *idn, kgd_err *err)
{
	char copy[SCPI_REPLY_MAX];
	char *field[4], *p = copy;

	snprintf(copy, sizeof(copy), "%s", reply);
	memset(idn, 0, sizeof(*idn));
	for (int i = 0; i < 4; i++) {
		field[i] = p;
		p = i < 3 ? strchr(p, ',') : NULL;
		if (i < 3 && !p)
			return kgd_err_set(err, KGD_ERR_PROTOCOL,
					   "reply '%s' is not vendor,model,serial,firmware",
					   reply);
		if (p)
			*p++ = '\0';
	}
	/* Each field is cut to its buffer (63 characters: longer than any
	 * vendor or model an instrument reports). */
	snprintf(idn->vendor, sizeof(idn->vendor), "%.63s", field[0]);
	snprintf(idn->model, sizeof(idn->model), "%.63s", field[1]);
	snprintf(idn->serial, sizeof(idn->serial), "%.63s", field[2]);
	snprintf(idn->firmware, sizeof(idn->firmware), "%.63s", field[3]);
	return KGD_OK;
}

int scpi_idn_matches(const char *reply, const char *const *vendors,
		     const char *model)
{
	struct scpi_idn f;

	if (scpi_parse_idn(reply, &f, NULL) || strcmp(f.model, model) != 0)
		return 0;
	for (; *vendors; vendors++)
		if (strcmp(f.vendor, *vendors) == 0)
			return 1;
	return 0;
}

int scpi_copy_idn(xport *x, const char *idn, char *buf, size_t cap,
		  kgd_err *err)
{
	size_t n = strlen(idn);

	if (!buf || cap <= n)
		return kgd_err_set(err, KGD_ERR_ARG,
				   "%s: identity '%s' does not fit %zu bytes",
				   xport_uri(x), idn, buf ? cap : 0);
	memcpy(buf, idn, n + 1);
	return KGD_OK;
}

int scpi_idn(xport *x, struct scpi_idn *idn, kgd_err *err)
{
	char reply[SCPI_REPLY_MAX];
	int rc = scpi_exchange(x, "*IDN?", reply, sizeof(reply), err);

	if (rc)
		return rc;
	rc = scpi_parse_idn(reply, idn, err);
	if (rc)
		kgd_err_prefix(err, "%s: '*IDN?': ", xport_uri(x));
	return rc;
}

int scpi_opc(xport *x, kgd_err *err)
{
	char reply[32];
	int rc = scpi_exchange(x, "*OPC?", reply, sizeof(reply), err);

	if (rc)
		return rc;
	if (strcmp(reply, "1") != 0 && strcmp(reply, "+1") != 0)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "%s: '*OPC?': expected 1, got '%s'", xport_uri(x), reply);
	return KGD_OK;
}

int scpi_rst(xport *x, kgd_err *err)
{
	return scpi_send(x, "*RST", err);
}

int scpi_cls(xport *x, kgd_err *err)
{
	return scpi_send(x, "*CLS", err);
}

/* ---- pure parsers ---------------------------------------------------- */

static const char *skip_blanks(const char *s)
{
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	return s;
}

/* Length of the SCPI number at s (sign, digits, point, exponent), 0 if s
 * does not start with one. Done by hand because strtod also accepts hex
 * floats, "inf"/"nan" and the locale's decimal separator. */
static size_t scpi_number_len(const char *s)
{
	const char *p = s;
	size_t digits = 0;

	if (*p == '+' || *p == '-')
		p++;
	while (*p >= '0' && *p <= '9')
		p++, digits++;
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9')
			p++, digits++;
	}
	if (!digits)
		return 0;
	if (*p == 'e' || *p == 'E') {
		const char *e = p + 1;

		if (*e == '+' || *e == '-')
			e++;
		if (*e >= '0' && *e <= '9') {
			while (*e >= '0' && *e <= '9')
				e++;
			p = e;
		}
	}
	return (size_t)(p - s);
}

int scpi_parse_double(const char *s, double *out, kgd_err *err)
{
	char num[128];
	const char *p, *dp;
	size_t n, dplen, j = 0;
	char *end;
	double v;

	if (!s || !out)
		return kgd_err_set(err, KGD_ERR_ARG, "scpi_parse_double: NULL argument");
	p = skip_blanks(s);
	{
		const char *t = p + (*p == '+' || *p == '-');

		if (strncasecmp(t, "nan", 3) == 0 || strncasecmp(t, "inf", 3) == 0)
			return kgd_err_set(err, KGD_ERR_OVERRANGE,
					   "no valid value ('%s')", s);
	}
	n = scpi_number_len(p);
	if (n == 0 || *skip_blanks(p + n) != '\0')
		return kgd_err_set(err, KGD_ERR_PROTOCOL, "reply '%s' is not a number", s);
	/* strtod follows LC_NUMERIC; the grammar above already fixed '.' as the
	 * separator, so hand strtod the locale's own separator instead. */
	dp = localeconv()->decimal_point;
	dplen = strlen(dp);
	for (size_t i = 0; i < n; i++) {
		if (j + dplen + 1 >= sizeof(num))
			return kgd_err_set(err, KGD_ERR_PROTOCOL, "number '%s' too long", s);
		if (p[i] == '.') {
			memcpy(num + j, dp, dplen);
			j += dplen;
		} else {
			num[j++] = p[i];
		}
	}
	num[j] = '\0';
	v = strtod(num, &end);
	if (*end != '\0')
		return kgd_err_set(err, KGD_ERR_PROTOCOL, "reply '%s' is not a number", s);
	/* 9.9E37 (+INF), -9.9E37 (-INF), 9.91E37 (NaN) and anything that
	 * overflowed a double all land here. */
	if (!isfinite(v) || fabs(v) > SCPI_OVERRANGE_LIMIT)
		return kgd_err_set(err, KGD_ERR_OVERRANGE, "no valid value ('%s')", s);
	*out = v;
	return KGD_OK;
}

int scpi_parse_long(const char *s, long *out, kgd_err *err)
{
	double v;
	int rc = scpi_parse_double(s, &v, err);

	if (rc)
		return rc;
	/* Instruments answer integers as NR1 but some as "+1.00000E+00". */
	if (v != floor(v) || v < -2147483648.0 || v > 2147483647.0)
		return kgd_err_set(err, KGD_ERR_PROTOCOL, "reply '%s' is not an integer", s);
	*out = (long)v;
	return KGD_OK;
}

int scpi_parse_error(const char *s, int *code, char *text, size_t text_cap,
		     kgd_err *err)
{
	const char *p, *q;
	char *end;
	long c;
	size_t n = 0;

	if (!s || !code)
		return kgd_err_set(err, KGD_ERR_ARG, "scpi_parse_error: NULL argument");
	p = skip_blanks(s);
	c = strtol(p, &end, 10);
	if (end == p || (*p != '+' && *p != '-' && (*p < '0' || *p > '9')) ||
	    c < -32768 || c > 32767)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "error reply '%s' does not start with a code", s);
	p = skip_blanks(end);
	if (*p == '\0') {
		q = p; /* bare code: some instruments send just "0" */
	} else if (*p != ',') {
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "error reply '%s' is not <code>,\"<text>\"", s);
	} else {
		q = skip_blanks(p + 1);
	}
	if (text && text_cap) {
		/* IEEE 488.2 strings double an embedded quote: "a ""b"" c". */
		if (*q == '"') {
			for (q++; *q; q++) {
				if (*q == '"' && q[1] != '"')
					break;
				if (*q == '"')
					q++;
				if (n + 1 < text_cap)
					text[n++] = *q;
			}
		} else {
			for (; *q; q++)
				if (n + 1 < text_cap)
					text[n++] = *q;
		}
		text[n] = '\0';
	}
	*code = (int)c;
	return KGD_OK;
}

int scpi_parse_block_header(const char *buf, size_t buf_len, size_t *header_len,
			    size_t *data_len, kgd_err *err)
{
	size_t nd, len = 0;

	if (!buf || !header_len || !data_len)
		return kgd_err_set(err, KGD_ERR_ARG, "scpi_parse_block_header: NULL argument");
	if (buf_len < 2)
		return kgd_err_set(err, KGD_ERR_PROTOCOL, "block header truncated");
	if (buf[0] != '#')
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "expected a block ('#'), got 0x%02x", (unsigned char)buf[0]);
	if (buf[1] == '0')
		return kgd_err_set(err, KGD_ERR_UNSUPPORTED,
				   "indefinite-length block (#0) not supported");
	if (buf[1] < '1' || buf[1] > '9')
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "bad block header: digit count '%c'", buf[1]);
	nd = (size_t)(buf[1] - '0');
	if (buf_len < 2 + nd)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "block header truncated (%zu of %zu bytes)", buf_len, 2 + nd);
	for (size_t i = 0; i < nd; i++) {
		char c = buf[2 + i];

		if (c < '0' || c > '9')
			return kgd_err_set(err, KGD_ERR_PROTOCOL,
					   "bad block header: length digit '%c'", c);
		len = len * 10 + (size_t)(c - '0');
	}
	*header_len = 2 + nd;
	*data_len = len;
	return KGD_OK;
}

int scpi_parse_block(const char *buf, size_t buf_len, const char **data,
		     size_t *data_len, kgd_err *err)
{
	size_t hlen = 0, dlen = 0;
	int rc = scpi_parse_block_header(buf, buf_len, &hlen, &dlen, err);

	if (rc)
		return rc;
	if (buf_len - hlen < dlen)
		return kgd_err_set(err, KGD_ERR_PROTOCOL,
				   "block truncated (%zu of %zu data bytes)", buf_len - hlen,
				   dlen);
	*data = buf + hlen;
	*data_len = dlen;
	return KGD_OK;
}

int scpi_query_block(xport *x, uint8_t **data, size_t *len, kgd_err *err,
		     const char *fmt, ...)
{
	char cmd[SCPI_CMD_MAX], hdr[12], tail[8];
	uint8_t *buf = NULL;
	size_t hlen, dlen, tlen;
	va_list ap;
	int rc;

	if (!data || !len)
		return kgd_err_set(err, KGD_ERR_ARG, "scpi_query_block: NULL argument");
	*data = NULL;
	*len = 0;
	va_start(ap, fmt);
	rc = scpi_vformat(x, cmd, fmt, ap, err);
	va_end(ap);
	if (rc)
		return rc;
	rc = scpi_send(x, cmd, err);
	if (rc)
		return rc;
	/* "#n" first: n says how many length digits follow. */
	rc = xport_read_n(x, hdr, 2, err);
	if (rc)
		goto io_error;
	if (hdr[0] == '#' && hdr[1] >= '1' && hdr[1] <= '9') {
		rc = xport_read_n(x, hdr + 2, (size_t)(hdr[1] - '0'), err);
		if (rc)
			goto io_error;
	}
	rc = scpi_parse_block_header(hdr, hdr[0] == '#' && hdr[1] >= '1' && hdr[1] <= '9'
					       ? 2 + (size_t)(hdr[1] - '0') : 2,
				     &hlen, &dlen, err);
	if (rc)
		goto parse_error;
	if (dlen > SCPI_BLOCK_MAX) {
		rc = kgd_err_set(err, KGD_ERR_PROTOCOL, "block of %zu bytes exceeds %d",
				 dlen, SCPI_BLOCK_MAX);
		goto parse_error;
	}
	buf = malloc(dlen ? dlen : 1);
	if (!buf) {
		rc = kgd_err_set(err, KGD_ERR_NOMEM, "%s: out of memory", xport_uri(x));
		goto out;
	}
	rc = xport_read_n(x, buf, dlen, err);
	if (rc)
		goto io_error;
	/* The block is followed by the message terminator and nothing else. */
	rc = xport_read_line(x, tail, sizeof(tail), &tlen, err);
	if (rc)
		goto io_error;
	if (tlen && !(tlen == 1 && tail[0] == '\r')) {
		rc = kgd_err_set(err, KGD_ERR_PROTOCOL,
				 "%s: '%s': %zu unexpected bytes after block", xport_uri(x),
				 cmd, tlen);
		goto out;
	}
	*data = buf;
	*len = dlen;
	buf = NULL;
	goto out;

io_error:
	scpi_name_cmd(x, cmd, rc, err);
	goto out;
parse_error:
	kgd_err_prefix(err, "%s: '%s': ", xport_uri(x), cmd);
	/* Whatever came instead of a block (a number, an error string, an
	 * indefinite #0 block) ends at the terminator: consume it so the next
	 * command does not read this reply's tail. */
	xport_read_line(x, tail, sizeof(tail), &tlen, NULL);
out:
	free(buf);
	return rc;
}
