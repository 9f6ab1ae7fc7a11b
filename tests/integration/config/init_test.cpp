// `edgeprovctl init` as a user runs it: the real executable, real files, exit codes and output.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <filesystem>

#include "ctl/exit_codes.h"
#include "edge-config/config.h"
#include "tests/support/process.h"

using namespace edgeprov;
namespace exit_code = edgeprov::ctl::exit_code;
using Catch::Matchers::ContainsSubstring;
namespace fs = std::filesystem;

namespace {

// The base64 value aziot uses in its own symmetric-key examples.
const std::string key =
    "YXppb3QtaWRlbnRpdHktc2VydmljZXxhemlvdC1pZGVudGl0eS1zZXJ2aWNlfGF6aW90LWlkZW50aXR5LXNlcg==";

test::RunResult edgeprovctl(std::vector<std::string> args, std::optional<std::string> stdin_text = std::nullopt) {
  args.insert(args.begin(), (test::bin_dir() / "edgeprovctl").string());
  test::ProcessOptions options{.argv = std::move(args)};
  options.stdin_text = std::move(stdin_text);
  return test::run(std::move(options), std::chrono::seconds(30));
}

fs::perms permission_bits(const fs::path& file) { return fs::status(file).permissions() & fs::perms::mask; }

}  // namespace

TEST_CASE("init writes a TPM configuration the service can load and says what to do next") {
  test::TempDir dir;
  const fs::path file = dir / "etc" / "config.toml";
  const auto r = edgeprovctl({"--config", file.string(), "init", "--scope-id", "0ne00000000", "--tcti",
                      "swtpm:host=127.0.0.1,port=2321", "--state-dir", (dir / "state").string()});
  INFO(r.output);
  REQUIRE(r.status.code == exit_code::ok);
  CHECK_THAT(r.output, ContainsSubstring("Wrote " + file.string()));
  CHECK_THAT(r.output, ContainsSubstring("registration id derived from the TPM's endorsement key"));
  CHECK_THAT(r.output, ContainsSubstring("edgeprovd --config " + file.string()));
  CHECK_THAT(r.output, ContainsSubstring("edgeprovctl status"));

  const config::Config c = config::load(file);
  CHECK(c.provisioning.id_scope == "0ne00000000");
  CHECK(c.provisioning.attestation.method == config::AttestationMethod::tpm);
  CHECK(c.tpm.tcti == "swtpm:host=127.0.0.1,port=2321");
  CHECK(c.state.dir == dir / "state");
  CHECK(permission_bits(file) == (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                  fs::perms::others_read));
}

TEST_CASE("init refuses to overwrite an existing configuration without --force") {
  test::TempDir dir;
  const fs::path file = dir / "config.toml";
  test::write_file(file, "# keep me\n");
  const auto refused = edgeprovctl({"--config", file.string(), "init", "--scope-id", "0ne00000000"});
  INFO(refused.output);
  CHECK(refused.status.code == exit_code::exists);
  CHECK_THAT(refused.output, ContainsSubstring("already exists — pass --force"));
  CHECK(test::read_file(file) == "# keep me\n");

  const auto forced = edgeprovctl({"--config", file.string(), "init", "--scope-id", "0ne00000001", "--force"});
  INFO(forced.output);
  CHECK(forced.status.code == exit_code::ok);
  CHECK(config::load(file).provisioning.id_scope == "0ne00000001");
}

TEST_CASE("init reads a symmetric key from stdin, keeps the file private and never prints the key") {
  test::TempDir dir;
  const fs::path file = dir / "config.toml";
  const auto r = edgeprovctl({"--config", file.string(), "init", "--scope-id", "0ne00000000", "--attestation",
                      "symmetric-key", "--registration-id", "edge-01", "--symmetric-key", "-", "--transport", "mqtt"},
                     key + "\n");
  INFO(r.output);
  REQUIRE(r.status.code == exit_code::ok);
  CHECK(r.output.find(key.substr(0, 20)) == std::string::npos);
  CHECK_THAT(r.output, ContainsSubstring("key <redacted>"));
  CHECK(permission_bits(file) == (fs::perms::owner_read | fs::perms::owner_write));
  const config::Config c = config::load(file);
  CHECK(c.provisioning.attestation.symmetric_key_value->reveal() == key);
  CHECK(c.dps.transport == config::Transport::mqtt);
}

TEST_CASE("init takes the symmetric key from a file and infers the attestation from it") {
  test::TempDir dir;
  test::write_file(dir / "key.txt", key + "\n");
  const fs::path file = dir / "config.toml";
  const auto r = edgeprovctl({"--config", file.string(), "init", "--scope-id", "0ne00000000", "--registration-id",
                      "edge-01", "--symmetric-key-file", (dir / "key.txt").string()});
  INFO(r.output);
  REQUIRE(r.status.code == exit_code::ok);
  CHECK(r.output.find(key.substr(0, 20)) == std::string::npos);
  const config::Config c = config::load(file);
  CHECK(c.provisioning.attestation.method == config::AttestationMethod::symmetric_key);
  CHECK(c.provisioning.attestation.symmetric_key_value->reveal() == key);
}

TEST_CASE("a symmetric key that is not base64 fails with the config error code and is not echoed") {
  test::TempDir dir;
  const fs::path file = dir / "config.toml";
  const std::string bad = "my*secret*value";
  const auto r = edgeprovctl({"--config", file.string(), "init", "--scope-id", "0ne00000000", "--registration-id",
                      "edge-01", "--symmetric-key", bad});
  INFO(r.output);
  CHECK(r.status.code == exit_code::config_error);
  CHECK_THAT(r.output, ContainsSubstring("--symmetric-key: is not a base64 key"));
  CHECK(r.output.find("secret") == std::string::npos);
  CHECK_FALSE(fs::exists(file));
}

TEST_CASE("init writes an x509 configuration with the certificate paths as file URIs") {
  test::TempDir dir;
  const fs::path file = dir / "config.toml";
  const auto r = edgeprovctl({"--config", file.string(), "init", "--scope-id", "0ne00000000", "--attestation", "x509",
                      "--identity-cert", (dir / "device.pem").string(), "--identity-pk",
                      (dir / "device.key.pem").string()});
  INFO(r.output);
  REQUIRE(r.status.code == exit_code::ok);
  const config::Config c = config::load(file);
  CHECK(c.provisioning.attestation.identity_cert == "file://" + (dir / "device.pem").string());
  CHECK(c.provisioning.attestation.identity_pk == "file://" + (dir / "device.key.pem").string());
}

TEST_CASE("flags that cannot work together are usage errors and write nothing") {
  test::TempDir dir;
  const fs::path file = dir / "config.toml";
  const auto mqtt = edgeprovctl({"--config", file.string(), "init", "--scope-id", "0ne00000000", "--transport", "mqtt"});
  CHECK(mqtt.status.code == exit_code::usage);
  CHECK_THAT(mqtt.output, ContainsSubstring("DPS accepts TPM attestation over HTTPS only"));

  const auto x509 = edgeprovctl({"--config", file.string(), "init", "--scope-id", "0ne00000000", "--attestation", "x509"});
  CHECK(x509.status.code == exit_code::usage);
  CHECK_THAT(x509.output, ContainsSubstring("needs both --identity-cert"));

  const auto no_id = edgeprovctl({"--config", file.string(), "init", "--scope-id", "0ne00000000", "--symmetric-key", key});
  CHECK(no_id.status.code == exit_code::usage);
  CHECK_THAT(no_id.output, ContainsSubstring("needs --registration-id"));
  CHECK(no_id.output.find(key.substr(0, 20)) == std::string::npos);

  const auto no_scope = edgeprovctl({"--config", file.string(), "init"});
  CHECK(no_scope.status.code == exit_code::usage);
  CHECK_THAT(no_scope.output, ContainsSubstring("--scope-id is required"));
  CHECK_FALSE(fs::exists(file));
}

TEST_CASE("the global --endpoint becomes the service's endpoint and the status hint uses it") {
  test::TempDir dir;
  const fs::path file = dir / "config.toml";
  const std::string endpoint = (dir / "edgeprov.sock").string();
  const auto r = edgeprovctl({"--endpoint", endpoint, "--config", file.string(), "init", "--scope-id", "0ne00000000"});
  INFO(r.output);
  REQUIRE(r.status.code == exit_code::ok);
  CHECK(config::load(file).ipc.endpoint == endpoint);
  CHECK_THAT(r.output, ContainsSubstring("edgeprovctl --endpoint " + endpoint + " status"));
}
