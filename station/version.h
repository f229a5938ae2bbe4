/*
 * station/version.h - which build this is: the project version (CMake's
 * project()) and `git describe --always --dirty` of the source when it was
 * built ("unknown" from a tarball without .git). Both are generated into
 * the build tree's kgd_version.c on every build (cmake/kgd_version.cmake),
 * shown by `station --version` and every --help, and stored with every
 * session (db session.software_version, software_build), so a result
 * says which build recorded it.
 */
#ifndef KGD_VERSION_H
#define KGD_VERSION_H

extern const char kgd_version_number[];  /* "0.1.0" */
extern const char kgd_version_build[];   /* "44fa0c4-dirty", "v0.1.0-3-g1a2b3c4" */

#endif
