# Every third-party dependency, found once here. Debian 12 packages on Linux
# (scripts/setup-debian.sh installs them); the Windows cross-build provides the same names.
find_package(Threads REQUIRED)
find_package(Boost 1.81 REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(TSS2 REQUIRED IMPORTED_TARGET tss2-esys tss2-tctildr tss2-mu tss2-rc)
# DPS over MQTT: Paho MQTT C++ (Debian's libpaho-mqttpp-dev; on Windows the static build of
# scripts/windows/build-deps.sh, or vcpkg's paho-mqttpp3). Its package names the shared library
# paho-mqttpp3 and the static one paho-mqttpp3-static; edgeprov_paho_mqtt is whichever this one has.
find_package(PahoMqttCpp QUIET)
if(TARGET PahoMqttCpp::paho-mqttpp3)
  set(edgeprov_paho_mqtt PahoMqttCpp::paho-mqttpp3)
elseif(TARGET PahoMqttCpp::paho-mqttpp3-static)
  set(edgeprov_paho_mqtt PahoMqttCpp::paho-mqttpp3-static)
else()
  message(FATAL_ERROR "Paho MQTT C++ (DPS over MQTT) was not found: on Debian run scripts/setup-debian.sh "
                      "(libpaho-mqttpp-dev); for the windows preset run scripts/windows/build-deps.sh; with "
                      "MSVC use the vcpkg manifest (paho-mqttpp3). docs/building.md has the details.")
endif()
if(WIN32)
  # The static Paho C calls UuidCreate (rpcrt4) for its WebSocket keys. Paho C's own package lists rpcrt4
  # with its system libraries, but Paho C++'s package finds Paho C through a module that passes on only
  # OpenSSL and ws2_32.
  list(APPEND edgeprov_paho_mqtt rpcrt4)
endif()
if(EDGEPROV_BUILD_TESTS)
  find_package(Catch2 3 REQUIRED)
  include(Catch)
endif()
