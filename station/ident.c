/*
 * station/ident.c - see ident.h: one check for every name the station is
 * handed, so the command line, stdin, the station config and the prober
 * refuse the same things with the same words.
 *
 * Invariant: a name that passes is stored as given, byte for byte; one that
 * does not is never shortened, cleaned or stored.
 */
#include "ident.h"

#include <stdio.h>
#include <string.h>

static const struct {
	const char *what;
	size_t max;
} kinds[] = {
	[IDENT_LOT] = {"lot name", IDENT_LOT_MAX},
	[IDENT_WAFER] = {"wafer id", IDENT_WAFER_MAX},
	[IDENT_SERIAL] = {"serial number", IDENT_SERIAL_MAX},
	[IDENT_OPERATOR] = {"operator name", IDENT_OPERATOR_MAX},
	[IDENT_STATION] = {"station name", IDENT_STATION_MAX},
};

const char *ident_what(ident_kind kind)
{
	return kinds[kind].what;
}

/* The length of the UTF-8 sequence at p (n bytes left), or 0 if it is not
 * one: no overlong forms, no surrogates, nothing above U+10FFFF. *cp gets
 * the code point. */
static size_t utf8_len(const unsigned char *p, size_t n, unsigned long *cp)
{
	size_t len, i;
	unsigned long c, min;

	if (p[0] < 0x80) {
		*cp = p[0];
		return 1;
	}
	if ((p[0] & 0xE0) == 0xC0) {
		len = 2, c = p[0] & 0x1F, min = 0x80;
	} else if ((p[0] & 0xF0) == 0xE0) {
		len = 3, c = p[0] & 0x0F, min = 0x800;
	} else if ((p[0] & 0xF8) == 0xF0) {
		len = 4, c = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = c << 6 | (p[i] & 0x3F);
	}
	if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF))
		return 0;
	*cp = c;
	return len;
}

/* The value as it can be shown in one line: printable ASCII as is, every
 * other byte as \xNN, cut (with "...") to fit. */
static void shown(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0, i;

	for (i = 0; i < len && o + 8 < cap; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch >= 0x20 && ch < 0x7F && ch != '\\')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", ch);
	}
	if (i < len && o + 4 <= cap)
		o += (size_t)snprintf(out + o, cap - o, "...");
	out[o < cap ? o : cap - 1] = '\0';
}

int ident_check(ident_kind kind, const char *s, size_t len, char *why,
		size_t cap)
{
	const char *what = kinds[kind].what;
	const unsigned char *u = (const unsigned char *)s;
	char show[64];
	size_t i, n;
	unsigned long cp;

	if (len == 0) {
		snprintf(why, cap, "the %s is empty", what);
		return -1;
	}
	if (len > kinds[kind].max) {
		snprintf(why, cap, "the %s is %zu bytes long; at most %zu are "
			 "allowed", what, len, kinds[kind].max);
		return -1;
	}
	shown(s, len, show, sizeof(show));
	for (i = 0; i < len; i += n) {
		n = utf8_len(u + i, len - i, &cp);
		if (n == 0) {
			snprintf(why, cap, "the %s '%s' is not UTF-8 text (\\x%02x "
				 "at byte %zu)", what, show, u[i], i + 1);
			return -1;
		}
		if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp <= 0x9F)) {
			snprintf(why, cap, "the %s '%s' holds a control character "
				 "(\\x%02x at byte %zu)", what, show, u[i], i + 1);
			return -1;
		}
	}
	if (s[0] == ' ' || s[len - 1] == ' ') {
		snprintf(why, cap, "the %s '%s' begins or ends with a space", what,
			 show);
		return -1;
	}
	return 0;
}

int ident_yu_check(yu_doc *d, const yaml_node_t *n, ident_kind kind)
{
	char why[IDENT_WHY_MAX];

	if (n->type != YAML_SCALAR_NODE ||
	    ident_check(kind, (const char *)n->data.scalar.value,
			n->data.scalar.length, why, sizeof(why)) == 0)
		return 0;
	yu_problem(d, n->start_mark, "%s", why);
	return -1;
}
