// A provisioned TPM device whose TPM locks out after power losses: the service stays provisioned, signing
// answers the typed lockout error with the time until recovery, and signs again once the TPM recovers,
// without a restart. swtpm, dps-emulator, edgeprovd and edgeprovctl are real processes.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "common/encoding.h"
#include "ipc/jsonrpc.h"
#include "tests/integration/provision/provision_checks.h"

using namespace edgeprov;
using namespace edgeprov::test;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;
using nlohmann::json;

namespace {

json sign_params() { return json{{"data", base64_encode(as_bytes("edge message"))}}; }

// The error answer of a call that must fail.
ipc::RpcError rpc_error_of(ProvisioningWorld& world, const std::string& method, const json& params) {
  try {
    const auto result = world.call(method, params);
    FAIL(method << " succeeded: " << result.dump());
  } catch (const ipc::ClientError& e) {
    REQUIRE(e.rpc_error());
    return *e.rpc_error();
  }
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("a TPM locked out by power losses leaves the device provisioned; signing says when it recovers and "
          "works again by itself once the TPM has forgotten enough failures, without a restart") {
  ProvisioningWorld world;
  const auto tpm = world.tpm_identity();
  world.enroll_tpm(tpm);
  world.init({.attestation = Attestation::tpm});
  // A limit of 2 failed authorizations, one forgotten per 20 s of powered-on time (set before edgeprovd
  // holds the swtpm, which serves one client at a time; nothing else touches it afterwards).
  const auto setup = world.swtpm().tpm2({"tpm2_dictionarylockout", "--setup-parameters", "--max-tries=2",
                                         "--recovery-time=20", "--lockout-recovery-time=600"});
  REQUIRE(setup.status.code == 0);
  world.start_daemon();
  world.wait_for_state("provisioned", 60s);

  // The device signs with its DPS key, then loses power (no TPM2_Shutdown), twice: each power-on is far
  // shorter than the 20 s interval, so nothing is forgotten in between.
  for (int i = 0; i < 2; ++i) {
    CHECK(world.call("identity.sign", sign_params()).contains("signature"));
    world.swtpm().kill();
    world.swtpm().restart();
  }

  const auto error = rpc_error_of(world, "identity.sign", sign_params());
  INFO(error.message);
  CHECK(error.code == ipc::errc::tpm_unavailable);
  CHECK_THAT(error.message, ContainsSubstring("counted 2 failed authorizations and locks at 2"));
  CHECK_THAT(error.message, ContainsSubstring("in at most 20 s of powered-on time"));
  CHECK_THAT(error.message, ContainsSubstring("tpm2_dictionarylockout --clear-lockout"));
  CHECK(error.data["kind"] == "lockout");
  CHECK(error.data["rc"] == "0x921");
  CHECK(error.data["lockout"]["inLockout"] == true);
  CHECK(error.data["lockout"]["counter"] == 2);
  CHECK(error.data["lockout"]["maxTries"] == 2);
  CHECK(error.data["lockout"]["secondsUntilUsable"] == 20);

  const auto sas = rpc_error_of(world, "identity.sasToken", nullptr);
  CHECK(sas.code == ipc::errc::tpm_unavailable);
  CHECK(sas.data["kind"] == "lockout");

  // edgeprovctl: exit 7 (the TPM), the cause and the way out on stderr, nothing on stdout.
  const auto ctl = world.ctl({"identity", "sas-token"});
  CHECK(ctl.status.code == 7);
  CHECK_THAT(ctl.output, ContainsSubstring("dictionary-attack lockout"));

  // status: still provisioned, with a tpm error naming the lockout and the time until recovery; it stays
  // while the TPM is locked (the service asks again with a signature: reading keys works in a lockout).
  const auto status = world.status();
  INFO(status.dump());
  CHECK(status["state"] == "provisioned");
  CHECK(status["tpm"]["available"] == false);
  const auto& tpm_error = status["tpm"]["error"];
  CHECK(tpm_error["kind"] == "tpm");
  CHECK_THAT(tpm_error["message"].get<std::string>(), ContainsSubstring("dictionary-attack lockout"));
  CHECK(tpm_error["cause"]["kind"] == "lockout");
  CHECK(tpm_error["cause"]["lockout"]["secondsUntilUsable"].get<int>() <= 20);
  CHECK(tpm_error["cause"]["lockout"]["secondsUntilUsable"].get<int>() > 0);
  // The log says what happened and what to do.
  CHECK_THAT(world.daemon_log(), ContainsSubstring("the device stays provisioned"));
  CHECK_THAT(world.daemon_log(), ContainsSubstring("tpm2_dictionarylockout --clear-lockout"));

  // The TPM forgets one failure after 20 s powered on: the service's own probe signs, status clears the
  // error (status.changed is the event), and signatures work again; nobody acts, nothing restarts.
  const auto recovered = world.wait_for(
      [](const json& s) { return s["tpm"]["available"] == true && s["tpm"]["error"].is_null(); }, 90s,
      "the TPM out of lockout");
  CHECK(recovered["state"] == "provisioned");
  CHECK(world.call("identity.sign", sign_params()).contains("signature"));
  CHECK_THAT(world.daemon_log(), ContainsSubstring("the TPM answers again"));
}
