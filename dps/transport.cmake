# The DPS transports (HTTPS on Beast, MQTT on Paho): their own library so the pure protocol code in
# edgeprov_dps builds and tests without sockets, TLS or Paho. Without Paho (EDGEPROV_WITH_MQTT=OFF, see
# cmake/EdgeprovDependencies.cmake) the MQTT transport is replaced by one that refuses with a
# configuration error; the MQTT wire names (mqtt_topic.cpp, in edgeprov_dps) are built either way.
edgeprov_platform_sources(dps_transport_platform ${CMAKE_CURRENT_LIST_DIR}/sigpipe)
if(EDGEPROV_WITH_MQTT)
  set(dps_mqtt_sources ${CMAKE_CURRENT_LIST_DIR}/mqtt_transport.cpp)
  set(dps_mqtt_library PahoMqttCpp::paho-mqttpp3)
else()
  set(dps_mqtt_sources ${CMAKE_CURRENT_LIST_DIR}/mqtt_unavailable.cpp)
  set(dps_mqtt_library)
endif()
edgeprov_add_library(edgeprov_dps_transport
  ${dps_transport_platform}
  ${CMAKE_CURRENT_LIST_DIR}/tls.cpp
  ${CMAKE_CURRENT_LIST_DIR}/proxy.cpp
  ${CMAKE_CURRENT_LIST_DIR}/https_transport.cpp
  ${dps_mqtt_sources})
target_link_libraries(edgeprov_dps_transport
  PUBLIC edgeprov_common edgeprov_asio ${dps_mqtt_library}
  PRIVATE spdlog::spdlog fmt::fmt)
target_compile_definitions(edgeprov_dps_transport PRIVATE EDGEPROV_VERSION="${PROJECT_VERSION}")
# registration: one DPS registration attempt over either transport (registration.h), on the protocol code.
target_sources(edgeprov_dps_transport PRIVATE ${CMAKE_CURRENT_LIST_DIR}/registration.cpp)
target_link_libraries(edgeprov_dps_transport PUBLIC edgeprov_dps)
