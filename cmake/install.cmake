# Installation and packaging: where "cmake --install" puts things, and the
# .deb that CPack builds from the same rules.  The systemd unit and the
# package's conffiles name absolute paths, so they are generated for the
# install prefix chosen at configure time; build the package from a tree
# configured with -DCMAKE_INSTALL_PREFIX=/usr (tests/package/test_deb.sh
# does).
include(GNUInstallDirs)

set(LABGATE_BINDIR ${CMAKE_INSTALL_FULL_BINDIR})
# GNUInstallDirs maps the /usr prefix to /etc, /usr/local to /usr/local/etc.
set(LABGATE_CONFDIR ${CMAKE_INSTALL_FULL_SYSCONFDIR}/labgate)
set(LABGATE_SYSTEMD_UNIT_DIR ${CMAKE_INSTALL_PREFIX}/lib/systemd/system
    CACHE PATH "Where the systemd unit is installed")

configure_file(${CMAKE_SOURCE_DIR}/packaging/labgate.service.in
    ${CMAKE_BINARY_DIR}/packaging/labgate.service @ONLY)
configure_file(${CMAKE_SOURCE_DIR}/packaging/conffiles.in
    ${CMAKE_BINARY_DIR}/packaging/conffiles @ONLY)

# Man pages, compressed as Debian installs them.
find_program(GZIP_EXECUTABLE gzip REQUIRED)
set(LABGATE_MAN_PAGES labgate-server.8 labgate-tui.1)
set(LABGATE_MAN_OUTPUTS)
foreach(page IN LISTS LABGATE_MAN_PAGES)
    set(src ${CMAKE_SOURCE_DIR}/docs/man/${page})
    set(out ${CMAKE_BINARY_DIR}/man/${page}.gz)
    add_custom_command(OUTPUT ${out}
        COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/man
        COMMAND ${GZIP_EXECUTABLE} -9 -n -c ${src} > ${out}
        DEPENDS ${src}
        COMMENT "Compressing ${page}")
    list(APPEND LABGATE_MAN_OUTPUTS ${out})
    string(REGEX REPLACE "^.*\\.([0-9])$" "\\1" section ${page})
    install(FILES ${out} DESTINATION ${CMAKE_INSTALL_MANDIR}/man${section})
endforeach()
add_custom_target(labgate_man ALL DEPENDS ${LABGATE_MAN_OUTPUTS})

install(FILES ${CMAKE_SOURCE_DIR}/packaging/labgate.json
    DESTINATION ${LABGATE_CONFDIR})
install(FILES ${CMAKE_BINARY_DIR}/packaging/labgate.service
    DESTINATION ${LABGATE_SYSTEMD_UNIT_DIR})
install(FILES ${CMAKE_SOURCE_DIR}/packaging/labgate.json
    RENAME labgate.json.example
    DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES ${CMAKE_SOURCE_DIR}/docs/openapi.yaml
    ${CMAKE_SOURCE_DIR}/docs/deploy.md
    ${CMAKE_SOURCE_DIR}/docs/configuration.md
    ${CMAKE_SOURCE_DIR}/docs/deploy/nginx-labgate.conf
    DESTINATION ${CMAKE_INSTALL_DOCDIR})

# The .deb.  dpkg-shlibdeps (dpkg-dev) works out the runtime library
# dependencies from the binaries themselves.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME labgate)
set(CPACK_PACKAGE_VENDOR "labgate")
set(CPACK_PACKAGE_CONTACT "labgate maintainers <maintainers@labgate.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "self-hosted CI results service and terminal dashboard")
set(CPACK_PACKAGE_DESCRIPTION
    "labgate-server stores CI results posted over HTTP in SQLite, with the\n\
verified identity of each caller (open, OIDC bearer token or AWS SigV4);\n\
labgate-tui shows live pass/fail status per suite and per auth path.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CMAKE_INSTALL_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CMAKE_BINARY_DIR}/packaging/conffiles
    ${CMAKE_SOURCE_DIR}/packaging/postinst
    ${CMAKE_SOURCE_DIR}/packaging/prerm
    ${CMAKE_SOURCE_DIR}/packaging/postrm)
include(CPack)
