/*
 * plugins/mpi-sentio/protocol.h - the MPI SENTIO remote command set
 * (docs/INSTRUMENTS.md, "Wafer prober"): command table, reply parsing.
 *
 * Invariant: every line this driver sends comes from a row of a command-set
 * table (protocol.c), and every reply after the session's start (whose
 * *IDN? may be refused, see sentio_start) goes through sentio_exchange,
 * which turns a non-zero error field into KGD_ERR_INSTRUMENT naming the
 * URI and the command. A new prober family speaking SENTIO's set is a
 * model row.
 */
#ifndef KGD_SENTIO_PROTOCOL_H
#define KGD_SENTIO_PROTOCOL_H

#include <stddef.h>

#include "kgd/xport.h"

#define SENTIO_DRIVER "mpi-sentio"

/* Reply status bits (code >> 10). */
#define SENTIO_STAT_END_OF_ROUTE 0x1
#define SENTIO_STAT_LAST_SITE 0x2

#define SENTIO_MSG_MAX 1024

/* Commands; the comment gives the printf arguments each format takes. */
enum sentio_cmd {
	SENTIO_CMD_REMOTE,       /* (none); the one command without a reply */
	SENTIO_CMD_IDN,          /* (none) */
	SENTIO_CMD_LOAD_WAFER,   /* int slot -> wafer id */
	SENTIO_CMD_ALIGN,        /* (none) */
	SENTIO_CMD_STEP_FIRST,   /* (none) -> col,row,site */
	SENTIO_CMD_STEP_NEXT,    /* (none) -> col,row,site */
	SENTIO_CMD_STEP_DIE,     /* int col, int row, int site -> col,row,site */
	SENTIO_CMD_CURRENT_DIE,  /* (none) -> col,row */
	SENTIO_CMD_NUM_DIES,     /* (none) -> n */
	SENTIO_CMD_CONTACT,      /* (none) */
	SENTIO_CMD_SEPARATE,     /* (none) */
	SENTIO_CMD_SET_BIN,      /* int bin, int col, int row */
	SENTIO_CMD_UNLOAD_WAFER, /* (none) */
	SENTIO_CMD_FIBER_MOVE,   /* double x, double y (um) -> x,y */
	SENTIO_CMD_FIBER_POS,    /* (none) -> x,y */
	/* The wafer map's geometry (ABI 1.4 map_geometry). */
	SENTIO_CMD_DIAMETER,     /* (none) -> mm */
	SENTIO_CMD_INDEX_SIZE,   /* (none) -> w,h (um) */
	SENTIO_CMD_NUM_COLS,     /* (none) -> n */
	SENTIO_CMD_NUM_ROWS,     /* (none) -> n */
	SENTIO_CMD_GRID_PARAMS,  /* (none) -> ix,iy,offx,offy,edge (um) */
	SENTIO_CMD_ORIENT_MARKER,/* (none) -> Notch|Flat,angle,width */
	SENTIO_CMD_COUNT
};

typedef struct sentio_cmd_row {
	const char *fmt;
	/* Mechanical moves (load, align) take longer than the station's
	 * per-instrument timeout is meant for: the read waits at least this
	 * long (0 = the transport's timeout). */
	int min_timeout_ms;
} sentio_cmd_row;

typedef struct sentio_cmdset {
	const char *name;
	sentio_cmd_row cmd[SENTIO_CMD_COUNT];
} sentio_cmdset;

typedef struct sentio_model {
	const char *match;         /* substring of the *IDN? identity */
	const char *name;          /* for messages */
	const sentio_cmdset *cmds;
} sentio_model;

/* The model row for an identity string; the generic SENTIO row when the
 * identity names no known family (every MPI prober running SENTIO speaks
 * the same set). Never NULL. */
const sentio_model *sentio_match_idn(const char *idn);

/* Parse "<code>,<cmdId>,<message>" (message may be empty or absent).
 * -1 if the line is not in that shape. msg gets the message verbatim. */
int sentio_parse_reply(const char *line, long *code, long *cmd_id, char *msg,
		       size_t cap);

/* Parse "<col>,<row>[,<site>]"; -1 if not in that shape. */
int sentio_parse_die(const char *msg, int *col, int *row, int *site);

/* The start of every session, before any other command as SENTIO
 * requires: remote mode ("*RCS 1", no reply), then the prober's identity
 * into idn. *IDN? is not part of every SENTIO release's remote set: an
 * error reply leaves the generic "MPI SENTIO prober at <uri>", a plain
 * (non-SENTIO) line is taken as the identity itself; only silence or a
 * dead link fails. */
int sentio_start(xport *x, char *idn, size_t cap, kgd_err *err);

/* Send command `c`, read its one reply; the message into msg (may be NULL),
 * the status bits into *status (may be NULL), the prober's cmdId into
 * *cmd_id (may be NULL). KGD_ERR_INSTRUMENT when error = code & 1023 is
 * non-zero, KGD_ERR_PROTOCOL when the reply is not a SENTIO reply; both
 * messages carry the URI, the command and the reply. */
int sentio_exchange(xport *x, const sentio_model *m, enum sentio_cmd c,
		    char *msg, size_t cap, int *status, long *cmd_id,
		    kgd_err *err, ...);

#endif
