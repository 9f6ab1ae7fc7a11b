// emulator/certificates.h — the emulator's test PKI: on first start a CA and a server certificate valid for
// 127.0.0.1 and localhost (and any extra names), kept in a directory and reused afterwards. Test use only:
// the CA key sits next to its certificate (mode 0600).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace edgeprov::emulator {

struct CertificatePaths {
  std::filesystem::path ca_certificate;      // ca.pem: give this to clients (curl --cacert, trusted_ca)
  std::filesystem::path server_certificate;  // server.pem (server certificate, then the CA)
  std::filesystem::path server_key;          // server.key
  bool generated = false;                    // true when this call created them
};

// Creates the directory and the files when missing; throws std::runtime_error naming the path and the fix.
CertificatePaths ensure_certificates(const std::filesystem::path& dir, const std::vector<std::string>& extra_names = {});

}  // namespace edgeprov::emulator
