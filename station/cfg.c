/* station/cfg.c: being written */
