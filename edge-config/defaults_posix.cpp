// edge-config/defaults_posix.cpp — where edgeprov keeps its files on Linux (FHS: /etc, /var/lib, /run)
// and which TPM it talks to: the kernel's resource manager, so other TPM users can share it.
#include "edge-config/config.h"

namespace edgeprov::config {

const Defaults& defaults() {
  static const Defaults values{
      .config_file = "/etc/edgeprov/config.toml",
      .state_dir = "/var/lib/edgeprov",
      .ipc_endpoint = "/run/edgeprov/edgeprov.sock",
      .tcti = "device:/dev/tpmrm0",
      .start_service = "sudo systemctl enable --now edgeprovd",
      .service_account = "edgeprov",
      .mqtt_system_trust = true,
  };
  return values;
}

}  // namespace edgeprov::config
