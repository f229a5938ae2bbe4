/* station/runner.c: being written */
