/*
 * instruments/sim/elsfp.h - the ELSFP laser module in the fixture, managed
 * through a simulated USB-I2C adapter (docs/INSTRUMENTS.md): the adapter's
 * line protocol over a pseudo-terminal, the module's CMIS-style register
 * map built from the model for the unit under test.
 *
 * Invariant: a register read is a fresh view of the module built from the
 * model and the shared station state (selected unit, low-power and lane
 * disable bits), so the power meter and the registers always agree on
 * which lasers emit; each read of a lane's power register is one sample.
 */
#ifndef KGD_SIM_ELSFP_H
#define KGD_SIM_ELSFP_H

#include "scpi_core.h"
#include "station.h"

#define SIM_ADAPTER_IDN "KGD,USB-I2C,A0000001,1.0"

typedef struct sim_elsfp sim_elsfp;

sim_elsfp *sim_elsfp_new(sim_station *st);
void sim_elsfp_free(sim_elsfp *e);
int sim_elsfp_execute(void *e, const char *line, const sim_fx *fx, sim_buf *out,
		      double *busy_s);

#endif
