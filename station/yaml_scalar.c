/*
 * station/yaml_scalar.c - the typed scalar readers of yaml_util.h (integer,
 * number, boolean, string, name) and the pure parsers of scalar text
 * behind them; yaml_util.c reads the file and walks the tree.
 *
 * Invariant: a value is only what its text says in full - "3" in quotes is
 * a string, "1.5x" is not a number - and a reader that refuses a value has
 * reported why at its node (yu_problem).
 */
#include "yaml_util.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The text of a scalar that has a value, or NULL after reporting. */
static const char *scalar_text(yu_doc *d, const yaml_node_t *n, const char *what)
{
	if (yu_expect(d, n, YAML_SCALAR_NODE, what) != 0)
		return NULL;
	if (yu_is_null(n)) {
		yu_problem(d, n->start_mark, "%s has no value", what);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

/* Numbers and booleans are plain scalars; "3" in quotes is a string in YAML,
 * and accepting it would make the file mean different things to different
 * tools. */
static const char *plain_text(yu_doc *d, const yaml_node_t *n, const char *what,
			      const char *kind)
{
	const char *s = scalar_text(d, n, what);

	if (s && n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE) {
		yu_problem(d, n->start_mark, "%s must be %s, not a quoted string",
			   what, kind);
		return NULL;
	}
	return s;
}

int yu_int(yu_doc *d, const yaml_node_t *n, const char *what, long min,
	   long max, long *out)
{
	const char *s = plain_text(d, n, what, "an integer");
	long v;

	if (!s)
		return -1;
	if (yu_parse_int(s, &v) != 0) {
		yu_problem(d, n->start_mark, "%s must be an integer, not '" YU_QUOTE "'",
			   what, s);
		return -1;
	}
	if (v < min || v > max) {
		yu_problem(d, n->start_mark, "%s must be between %ld and %ld, not %ld",
			   what, min, max, v);
		return -1;
	}
	*out = v;
	return 0;
}

int yu_double(yu_doc *d, const yaml_node_t *n, const char *what, double *out)
{
	const char *s = plain_text(d, n, what, "a number");

	if (!s)
		return -1;
	if (yu_parse_double(s, out) != 0) {
		yu_problem(d, n->start_mark, "%s must be a number, not '" YU_QUOTE "'",
			   what, s);
		return -1;
	}
	return 0;
}

/* The one list of words a yes/no setting may be written with, for YAML
 * booleans and for step params alike. */
int yu_bool_word(const char *s, int *out)
{
	static const struct { const char *word; int value; } words[] = {
		{"true", 1}, {"yes", 1}, {"on", 1},
		{"false", 0}, {"no", 0}, {"off", 0},
	};

	for (size_t i = 0; s && i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(s, words[i].word) == 0) {
			*out = words[i].value;
			return 0;
		}
	return -1;
}

int yu_bool(yu_doc *d, const yaml_node_t *n, const char *what, int *out)
{
	const char *s = plain_text(d, n, what, "true or false");

	if (!s)
		return -1;
	if (yu_bool_word(s, out) == 0)
		return 0;
	yu_problem(d, n->start_mark,
		   "%s must be true, false, yes, no, on or off, not '" YU_QUOTE "'",
		   what, s);
	return -1;
}

char *yu_string(yu_doc *d, const yaml_node_t *n, const char *what)
{
	const char *s = scalar_text(d, n, what);

	if (!s)
		return NULL;
	if (s[0] == '\0') {
		yu_problem(d, n->start_mark, "%s must not be empty", what);
		return NULL;
	}
	return yu_strdup(d, s);
}

int yu_parse_int(const char *s, long *out)
{
	const char *p = s;
	char *end;
	long v;

	/* Check the grammar first: strtol would take " 12", "0x" prefixes are
	 * refused by base 10 anyway, but leading blanks and "12abc" must go. */
	if (*p == '+' || *p == '-')
		p++;
	if (*p < '0' || *p > '9')
		return -1;
	errno = 0;
	v = strtol(s, &end, 10);
	if (*end != '\0' || errno == ERANGE)
		return -1;
	*out = v;
	return 0;
}

int yu_parse_double(const char *s, double *out)
{
	const char *p = s;
	int digits = 0;
	locale_t c_num, old;
	char *end;
	double v;

	/* [+-] digits [. digits] [(e|E) [+-] digits], at least one digit before
	 * the exponent: this refuses nan, inf, hex floats and trailing junk,
	 * all of which strtod would take. */
	if (*p == '+' || *p == '-')
		p++;
	for (; *p >= '0' && *p <= '9'; p++)
		digits++;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++)
			digits++;
	if (!digits)
		return -1;
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (*p < '0' || *p > '9')
			return -1;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p != '\0')
		return -1;

	/* strtod honours LC_NUMERIC; a station running under de_DE would read
	 * "1.5" as 1. Convert in the C locale, for this thread only. */
	c_num = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
	if (c_num == (locale_t)0)
		return -1;
	old = uselocale(c_num);
	errno = 0;
	v = strtod(s, &end);
	uselocale(old);
	freelocale(c_num);
	if (*end != '\0' || !isfinite(v))
		return -1;
	*out = v;
	return 0;
}

int yu_is_name(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}
