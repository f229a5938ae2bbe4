/*
 * instruments/sim/prober.h - a simulated MPI SENTIO-style wafer prober
 * (docs/INSTRUMENTS.md): a cassette of the lot's wafers, the wafer map and
 * its serpentine test route from the model, chuck position and contact in
 * the shared station state, and a bin map per wafer.
 *
 * Invariant: every command after *RCS gets exactly one reply line
 * "<code>,<cmdId>,<message>" (error = code & 1023, status = code >> 10,
 * bit 0 EndOfRoute); the chuck is never in contact with anything but the
 * die it is positioned at, and moving always separates first.
 *
 * Error codes (project): 1 unknown command, 2 no wafer loaded, 3 no such
 * die / outside the map, 4 not at a die, 5 contact failed, 6 bad
 * parameter, 7 wafer already loaded, 8 simulated fault.
 */
#ifndef KGD_SIM_PROBER_H
#define KGD_SIM_PROBER_H

#include "scpi_core.h"
#include "station.h"

#define SIM_PROBER_MAX_FAIL 16

/* Modelled time of one SiPh positioner command (siph:move_nanocube_xy, a
 * piezo move of a few um, settled; siph:get_nanocube_xy), seconds. Public
 * because bench_align takes the alignment's physical limit from it. */
#define SIM_T_NANOCUBE_S 0.005

typedef struct sim_prober sim_prober;

/* fail_dies: (col, row) pairs whose contact fails (fault injection). */
sim_prober *sim_prober_new(sim_station *st, const int (*fail_dies)[2], int n_fail);
void sim_prober_free(sim_prober *p);
int sim_prober_execute(void *p, const char *line, const sim_fx *fx, sim_buf *out,
		       double *busy_s);

#endif
