/*
 * station/ident.h - the names people and instruments hand the station: lot,
 * wafer id, serial number, operator and station name. Each is checked where
 * it comes in (command line, stdin, station config, prober), once, so that
 * what the database stores is exactly what was given and every later stage
 * can hold it: a report file name (wafermap_<lot>_<wafer>.svg,
 * <lot>_<wafer>.stdf) stays far below NAME_MAX, an STDF Cn field below 255,
 * and two names that print alike are the same bytes.
 *
 * The rule, the same for every kind (docs/SEQUENCES.md, "Names"):
 *  - not empty, at most IDENT_*_MAX bytes;
 *  - UTF-8 text without control characters: no NUL, tab, line break, DEL,
 *    escape or C1 control (U+0080..U+009F); any other character is fine,
 *    '/' too - reports make file names of lot and wafer by turning every
 *    character but letters, digits, '.' and '-' into '_' (docs/REPORTS.md);
 *  - no space at either end.
 * The length counts a NUL inside as a control character: callers pass the
 * real length (getline's, libyaml's), never strlen of a string a NUL may
 * have cut.
 */
#ifndef KGD_IDENT_H
#define KGD_IDENT_H

#include <stddef.h>
#include <yaml.h>

#include "yaml_util.h"

typedef enum ident_kind {
	IDENT_LOT,
	IDENT_WAFER,
	IDENT_SERIAL,
	IDENT_OPERATOR,
	IDENT_STATION,
} ident_kind;

/* Longest names, in bytes. Lot and wafer make the report file names:
 * "wafermap_" 64 "_" 64 ".svg.tmp" is 146 bytes (NAME_MAX is 255). A
 * serial may be "<lot>-<n>" (--units), so it has room for a lot and more. */
#define IDENT_LOT_MAX 64
#define IDENT_WAFER_MAX 64
#define IDENT_SERIAL_MAX 128
#define IDENT_OPERATOR_MAX 64
#define IDENT_STATION_MAX 64

/* Largest why a check writes (the quoted value is cut). */
#define IDENT_WHY_MAX 200

/* 0 when the len bytes at s are a good name of kind; -1 otherwise, with the
 * reason in why (cap bytes, IDENT_WHY_MAX is enough), e.g. "the serial
 * number 'SN\x00HIDDEN' holds a control character (\x00 at byte 3)". */
int ident_check(ident_kind kind, const char *s, size_t len, char *why,
		size_t cap);

/* "lot name", "wafer id", "serial number", "operator name", "station name". */
const char *ident_what(ident_kind kind);

/* For a loader: check scalar node n (its libyaml length) as kind and report
 * "file:line:column: <why>" through d. 0 if good. */
int ident_yu_check(yu_doc *d, const yaml_node_t *n, ident_kind kind);

#endif
