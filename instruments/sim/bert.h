/*
 * instruments/sim/bert.h - a simulated 16-lane BERT in the Keysight N4903B
 * J-BERT style (docs/INSTRUMENTS.md), measuring the lanes of the die in
 * contact.
 *
 * Invariants: a gate really lasts gate time x --time-scale of wall time;
 * its counts are fixed when it starts (bits = rate x gate time, errors a
 * Poisson draw from the lane's true BER keyed by the lane's gate number),
 * so they are a pure function of the model and the gate count; no sync
 * (no contact, output off, pattern mismatch, dead lane, or contact changed
 * during the gate) sets bit 0x400 and counts half the bits as errors.
 */
#ifndef KGD_SIM_BERT_H
#define KGD_SIM_BERT_H

#include "scpi_core.h"
#include "station.h"

#define SIM_BERT_IDN "Keysight Technologies,N4903B,MY00000002,V1.0 (sim)"
#define SIM_BERT_LANES 16

typedef struct sim_bert sim_bert;

sim_bert *sim_bert_new(sim_station *st);
void sim_bert_free(sim_bert *b);
int sim_bert_execute(void *b, const char *line, const sim_fx *fx, sim_buf *out,
		     double *busy_s);

#endif
