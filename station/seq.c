/* station/seq.c: being written */
