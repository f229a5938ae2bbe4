/* reports/rpt.c: being written */
