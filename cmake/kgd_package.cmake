# cmake/kgd_package.cmake - the Debian package (`cpack -G DEB` in the build
# folder, or `cmake --build build --target package`): the same relocatable
# tree as `cmake --install`, under /usr, plus /etc/kgd-station/station.yaml.
#
# Dependencies come from dpkg-shlibdeps over every ELF file in the package
# (CPACK_DEBIAN_PACKAGE_SHLIBDEPS), so they follow what is actually linked:
# a library an issue adds (libpq, libmicrohttpd) is a Depends: without an
# edit here. libkgd_instruments ships in the package itself.

# The station config an installed station falls back to. Installed by the
# package only (component kgd_etc, not part of a plain `cmake --install`,
# which writes nothing outside its prefix); a conffile, so dpkg keeps the
# station's own edits on upgrade.
install(FILES ${PROJECT_SOURCE_DIR}/deploy/station.yaml
  DESTINATION ${KGD_SYSTEM_CONFIG_DIR} COMPONENT kgd_etc EXCLUDE_FROM_ALL)
file(WRITE ${CMAKE_BINARY_DIR}/deb/conffiles "${KGD_SYSTEM_CONFIG}\n")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME kgd-station)
set(CPACK_PACKAGE_VENDOR "KGD photonics test")
set(CPACK_PACKAGE_CONTACT "KGD station maintainers <kgd-station@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
  "Known-good-die screening station for silicon-photonics parts")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${CMAKE_BINARY_DIR}/deb/conffiles)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
# One package with every component: the programs (Unspecified), the plugin
# writer's headers (kgd_dev) and the /etc config (kgd_etc).
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_COMPONENTS_GROUPING ALL_COMPONENTS_IN_ONE)
set(CPACK_COMPONENTS_ALL Unspecified kgd_dev kgd_etc)
include(CPack)
