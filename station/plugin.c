/* station/plugin.c: being written */
