#include "tests/integration/dps_transport/test_pki.h"

#include <stdexcept>
#include <vector>

namespace edgeprov::test {
namespace {

void openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  const auto result = run(ProcessOptions{.argv = args});
  if (!result.status.exited() || result.status.code != 0) {
    std::string command;
    for (const auto& a : args) command += a + " ";
    throw std::runtime_error("openssl failed: " + command + "\n" + result.output);
  }
}

const char* const config = R"(
[req]
distinguished_name = dn
prompt = no
[dn]
CN = edgeprov test
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[wrong_name_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
)";

}  // namespace

TestPki make_test_pki(const std::filesystem::path& dir) {
  const auto cfg = (dir / "openssl.cnf").string();
  write_file(cfg, config);
  const auto path = [&](const std::string& name) { return (dir / name).string(); };
  const auto make_ca = [&](const std::string& name, const std::string& cn) {
    openssl({"req", "-x509", "-config", cfg, "-extensions", "ca_ext", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:P-256", "-nodes", "-keyout", path(name + ".key"), "-out", path(name + ".pem"),
             "-days", "2", "-subj", "/CN=" + cn});
  };
  const auto make_leaf = [&](const std::string& name, const std::string& ca, const std::string& cn,
                             const std::string& ext) {
    openssl({"req", "-new", "-config", cfg, "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", path(name + ".key"), "-out", path(name + ".csr"), "-subj", "/CN=" + cn});
    openssl({"x509", "-req", "-in", path(name + ".csr"), "-CA", path(ca + ".pem"), "-CAkey", path(ca + ".key"),
             "-CAcreateserial", "-out", path(name + ".pem"), "-days", "2", "-extfile", cfg, "-extensions", ext});
    return CertKey{path(name + ".pem"), path(name + ".key")};
  };
  make_ca("ca", "edgeprov test CA");
  make_ca("other-ca", "unrelated test CA");
  TestPki pki;
  pki.ca = path("ca.pem");
  pki.server = make_leaf("server", "ca", "localhost", "server_ext");
  pki.wrong_name = make_leaf("wrong-name", "ca", "wrong.example", "wrong_name_ext");
  pki.untrusted_server = make_leaf("untrusted-server", "other-ca", "localhost", "server_ext");
  pki.client = make_leaf("client", "ca", "device-001", "client_ext");
  return pki;
}

}  // namespace edgeprov::test
