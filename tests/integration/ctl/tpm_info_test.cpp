// `edgeprovctl tpm info` as a user runs it, against a real swtpm (and a real edgeprovd when it runs).
// What is right is decided by tpm2_readpublic, openssl and base32.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <fmt/format.h>
#include <grp.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <filesystem>

#include "common/encoding.h"
#include "tests/support/notify.h"
#include "tests/support/process.h"
#include "tests/support/swtpm.h"

using namespace edgeprov;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;

namespace {

test::RunResult edgeprovctl(std::vector<std::string> args) {
  args.insert(args.begin(), (test::bin_dir() / "edgeprovctl").string());
  return test::run({.argv = std::move(args)}, 60s);
}

std::string line_value(const std::string& output, const std::string& label) {
  const auto at = output.find(label);
  if (at == std::string::npos) return {};
  const auto start = at + label.size();
  return output.substr(start, output.find('\n', start) - start);
}

struct Expected {
  std::string endorsement_key, registration_id;
};

// The EK as tpm2_readpublic reads it, and the registration id as openssl and base32 compute it.
Expected expected_from_tools(test::Swtpm& swtpm, const test::TempDir& dir) {
  const auto file = (dir / "ek.pub").string();
  const auto r = swtpm.tpm2({"tpm2_readpublic", "-c", "0x81010001", "-o", file});
  REQUIRE(r.status.code == 0);
  const auto id = test::run(
      {.argv = {"sh", "-c", fmt::format("openssl dgst -sha256 -binary '{}' | base32 | tr A-Z a-z | tr -d '=\\n'", file)}});
  REQUIRE(id.status.code == 0);
  return {base64_encode(to_bytes(test::read_file(file))), id.output};
}

std::string config_text(const std::string& tcti, const std::filesystem::path& socket) {
  return fmt::format(R"([provisioning]
source = "dps"
global_endpoint = "https://global.azure-devices-provisioning.net/"
id_scope = "0ne00000000"

[provisioning.attestation]
method = "tpm"

[tpm]
tcti = "{}"

[edgeprov.ipc]
endpoint = "{}"
)",
                     tcti, socket.string());
}

}  // namespace

TEST_CASE("edgeprovctl tpm info --tcti prints the registration id, the EK and the enrollment command that tpm2-tools and openssl agree with") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto r = edgeprovctl({"--endpoint", (dir / "none.sock").string(), "tpm", "info", "--tcti", swtpm.tcti()});
  INFO(r.output);
  REQUIRE(r.status.code == 0);
  const auto expected = expected_from_tools(swtpm, dir);
  CHECK(line_value(r.output, "Registration ID: ") == expected.registration_id);
  CHECK(line_value(r.output, "Endorsement Key: ") == expected.endorsement_key);
  CHECK_THAT(r.output, ContainsSubstring(fmt::format("--attestation-type tpm --endorsement-key {} --registration-id {} "
                                                     "--edge-enabled true",
                                                     expected.endorsement_key, expected.registration_id)));
  CHECK_THAT(r.output, ContainsSubstring("az iot dps enrollment create"));
}

TEST_CASE("edgeprovctl tpm info --json prints the tpm.info result") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto r = edgeprovctl({"--json", "tpm", "info", "--tcti", swtpm.tcti()});
  INFO(r.output);
  REQUIRE(r.status.code == 0);
  const auto j = nlohmann::json::parse(r.output);
  const auto expected = expected_from_tools(swtpm, dir);
  CHECK(j["registrationId"] == expected.registration_id);
  CHECK(j["endorsementKey"] == expected.endorsement_key);
  CHECK(j["tcti"] == swtpm.tcti());
  CHECK(j["handles"]["endorsementKey"]["present"] == true);
  CHECK(j["tpm"]["manufacturer"] == "IBM");
}

TEST_CASE("without a running service, edgeprovctl tpm info opens the TPM the configuration names") {
  test::Swtpm swtpm;
  test::TempDir dir;
  test::write_file(dir / "config.toml", config_text(swtpm.tcti(), dir / "edgeprov.sock"));
  const auto r = edgeprovctl({"--config", (dir / "config.toml").string(), "tpm", "info"});
  INFO(r.output);
  REQUIRE(r.status.code == 0);
  CHECK(line_value(r.output, "Registration ID: ") == expected_from_tools(swtpm, dir).registration_id);
}

TEST_CASE("edgeprovctl tpm info exits 7 with the TPM's error when the TPM cannot be reached") {
  test::TempDir dir;
  const auto tcti = fmt::format("swtpm:host=127.0.0.1,port={}", test::free_loopback_port());
  const auto r = edgeprovctl({"--endpoint", (dir / "none.sock").string(), "tpm", "info", "--tcti", tcti});
  CHECK(r.status.code == 7);
  CHECK_THAT(r.output, ContainsSubstring(tcti));
}

TEST_CASE("a TPM device node the user may not open is named, with the group that grants access") {
  test::TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms(0755));
  const auto node = dir / "tpmrm0";
  test::write_file(node, "");
  const struct group* tss = ::getgrnam("tss");
  REQUIRE(tss != nullptr);
  REQUIRE(::chown(node.c_str(), 0, tss->gr_gid) == 0);
  std::filesystem::permissions(node, std::filesystem::perms(0660));
  const auto r = test::run({.argv = {(test::bin_dir() / "edgeprovctl").string(), "--endpoint",
                                     (dir / "none.sock").string(), "tpm", "info", "--tcti", "device:" + node.string()},
                            .run_as_user = "nobody"});
  INFO(r.output);
  CHECK(r.status.code == 7);
  CHECK_THAT(r.output, ContainsSubstring("permission denied on " + node.string()));
  CHECK_THAT(r.output, ContainsSubstring("usermod -aG tss"));
}

TEST_CASE("while edgeprovd runs, edgeprovctl tpm info asks the service, which answers any local user from the TPM it owns") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto socket = dir / "edgeprov.sock";
  test::write_file(dir / "config.toml", config_text(swtpm.tcti(), socket));
  const auto daemon = test::start_until_ready(
      {.argv = {(test::bin_dir() / "edgeprovd").string(), "--config", (dir / "config.toml").string()}},
      dir / "notify.sock");
  // nobody cannot open the swtpm's state or a TPM device: the answer can only come from the service.
  const auto r = test::run({.argv = {(test::bin_dir() / "edgeprovctl").string(), "--endpoint", socket.string(),
                                     "--json", "tpm", "info"},
                            .run_as_user = "nobody"},
                           60s);
  INFO(r.output << daemon->output());
  REQUIRE(r.status.code == 0);
  const auto j = nlohmann::json::parse(r.output);
  const auto expected = expected_from_tools(swtpm, dir);
  CHECK(j["registrationId"] == expected.registration_id);
  CHECK(j["endorsementKey"] == expected.endorsement_key);
  CHECK(daemon->stop().code == 0);
}
