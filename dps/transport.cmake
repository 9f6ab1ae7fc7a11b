# The DPS transports (HTTPS on Beast, MQTT on Paho): their own library so the pure protocol code in
# edgeprov_dps builds and tests without sockets, TLS or Paho. The MQTT wire names (mqtt_topic.cpp) are
# pure protocol code, in edgeprov_dps.
edgeprov_platform_sources(dps_transport_platform ${CMAKE_CURRENT_LIST_DIR}/sigpipe ${CMAKE_CURRENT_LIST_DIR}/trust_store)
edgeprov_add_library(edgeprov_dps_transport
  ${dps_transport_platform}
  ${CMAKE_CURRENT_LIST_DIR}/tls.cpp
  ${CMAKE_CURRENT_LIST_DIR}/proxy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/https_transport.cpp
  ${CMAKE_CURRENT_LIST_DIR}/mqtt_transport.cpp)
target_link_libraries(edgeprov_dps_transport
  PUBLIC edgeprov_common edgeprov_asio ${edgeprov_paho_mqtt}
  PRIVATE spdlog::spdlog fmt::fmt)
target_compile_definitions(edgeprov_dps_transport PRIVATE EDGEPROV_VERSION="${PROJECT_VERSION}")
if(WIN32)
  target_link_libraries(edgeprov_dps_transport PRIVATE crypt32)  # trust_store_windows.cpp: the ROOT store
endif()
# registration: one DPS registration attempt over either transport (registration.h), on the protocol code.
target_sources(edgeprov_dps_transport PRIVATE ${CMAKE_CURRENT_LIST_DIR}/registration.cpp)
target_link_libraries(edgeprov_dps_transport PUBLIC edgeprov_dps)
