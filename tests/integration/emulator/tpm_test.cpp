// TPM attestation judged by a real TPM: the emulator's blobs are activated, imported and loaded by swtpm
// through tpm2-tools, and HMACs made in that TPM verify as the SAS of the next requests.
#include <catch2/catch_test_macros.hpp>

#include "common/encoding.h"
#include "tests/integration/emulator/emulator_fixture.h"
#include "tests/support/swtpm.h"

using namespace edgeprov;
using namespace edgeprov::test;
using nlohmann::json;

namespace {

void require_ok(const RunResult& r, const std::string& what) {
  INFO(what << ":\n" << r.output);
  REQUIRE(r.status.exited());
  REQUIRE(r.status.code == 0);
}

// A device TPM: EK (TCG template, 0x81010001) and SRK (0x81000001) persisted, as edgeprovd or the C SDK leave it.
struct Device {
  Swtpm tpm;
  TempDir dir;
  Device() {
    require_ok(tpm.tpm2({"tpm2_createek", "-c", "0x81010001", "-G", "rsa", "-u", (dir / "ek.pub").string()}), "createek");
    require_ok(tpm.tpm2({"tpm2_createprimary", "-C", "o", "-g", "sha256", "-G", "rsa2048:aes128cfb", "-a",
                         "fixedtpm|fixedparent|sensitivedataorigin|userwithauth|noda|restricted|decrypt", "-c",
                         (dir / "srk.ctx").string()}),
               "createprimary");
    require_ok(tpm.tpm2({"tpm2_evictcontrol", "-C", "o", "-c", (dir / "srk.ctx").string(), "0x81000001"}), "evictcontrol");
    require_ok(tpm.tpm2({"tpm2_flushcontext", "-t"}), "flushcontext");
    require_ok(tpm.tpm2({"tpm2_readpublic", "-c", "0x81000001", "-o", (dir / "srk.pub").string()}), "readpublic");
  }
  std::string ek_b64() { return base64_encode(to_bytes(read_file(dir / "ek.pub"))); }
  std::string srk_b64() { return base64_encode(to_bytes(read_file(dir / "srk.pub"))); }

  // Splits an authenticationKey blob into the files tpm2-tools read (docs/dps-protocol.md §11).
  void write_blob_parts(const Bytes& blob) {
    std::vector<Bytes> parts;
    std::size_t at = 0;
    for (int i = 0; i < 5; ++i) {
      REQUIRE(at + 2 <= blob.size());
      std::size_t size = static_cast<std::size_t>(blob[at] << 8 | blob[at + 1]);
      REQUIRE(at + 2 + size <= blob.size());
      parts.emplace_back(blob.begin() + static_cast<std::ptrdiff_t>(at), blob.begin() + static_cast<std::ptrdiff_t>(at + 2 + size));
      at += 2 + size;
    }
    Bytes credential{0xBA, 0xDC, 0xC0, 0xDE, 0x00, 0x00, 0x00, 0x01};
    credential.insert(credential.end(), parts[0].begin(), parts[0].end());
    credential.insert(credential.end(), parts[1].begin(), parts[1].end());
    write_file(dir / "credential.bin", to_string(credential));
    write_file(dir / "duplicate.priv", to_string(parts[2]));
    write_file(dir / "seed.bin", to_string(parts[3]));
    write_file(dir / "key.pub", to_string(parts[4]));
  }

  // ActivateCredential (EK policy session), then Import under the SRK and Load: what the clients do (§5.6/5.8).
  RunResult activate() {
    tpm.tpm2({"tpm2_flushcontext", "-t"});
    tpm.tpm2({"tpm2_flushcontext", "-s"});
    auto session = (dir / "session.ctx").string();
    require_ok(tpm.tpm2({"tpm2_startauthsession", "--policy-session", "-S", session}), "startauthsession");
    require_ok(tpm.tpm2({"tpm2_policysecret", "-S", session, "-c", "e"}), "policysecret");
    auto r = tpm.tpm2({"tpm2_activatecredential", "-c", "0x81000001", "-C", "0x81010001", "-i", (dir / "credential.bin").string(),
                       "-o", (dir / "inner.key").string(), "-P", "session:" + session});
    tpm.tpm2({"tpm2_flushcontext", session});
    return r;
  }
  RunResult import_and_load() {
    auto r = tpm.tpm2({"tpm2_import", "-C", "0x81000001", "-u", (dir / "key.pub").string(), "-i", (dir / "duplicate.priv").string(),
                       "-s", (dir / "seed.bin").string(), "-k", (dir / "inner.key").string(), "-r", (dir / "key.priv").string()});
    if (r.status.code != 0) return r;
    return tpm.tpm2({"tpm2_load", "-C", "0x81000001", "-u", (dir / "key.pub").string(), "-r", (dir / "key.priv").string(), "-c",
                     (dir / "key.ctx").string()});
  }
  void import_blob(const std::string& blob_b64) {
    auto blob = base64_decode(blob_b64);
    REQUIRE(blob);
    write_blob_parts(*blob);
    require_ok(activate(), "activatecredential");
    require_ok(import_and_load(), "import+load");
  }
  // HMAC-SHA256 inside the TPM with the loaded key, base64.
  std::string hmac(const std::string& data) {
    write_file(dir / "data.bin", data);
    require_ok(tpm.tpm2({"tpm2_hmac", "-c", (dir / "key.ctx").string(), "-o", (dir / "mac.bin").string(), (dir / "data.bin").string()}),
               "hmac");
    tpm.tpm2({"tpm2_flushcontext", "-t"});
    return base64_encode(to_bytes(read_file(dir / "mac.bin")));
  }
};

std::string sig_encode(std::string b64) {
  return url_encode(b64, true);
}

}  // namespace

TEST_CASE("a TPM device provisions end to end: swtpm activates and imports both blobs and its HMACs verify") {
  Device device;
  Emulator emulator;
  const std::string id = "tpm-device-01";
  REQUIRE(emulator.admin("PUT", "/enrollments/" + id,
                         {{"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", device.ek_b64()}}}}},
                          {"capabilities", {{"iotEdge", true}}}})
              .status == 201);
  json body = {{"registrationId", id}, {"tpm", {{"endorsementKey", device.ek_b64()}, {"storageRootKey", device.srk_b64()}}}};
  write_file(emulator.dir() / "body.json", body.dump());
  std::vector<std::string> put{"-X", "PUT", "-H", "Content-Type: application/json; charset=utf-8", "--data-binary",
                               "@" + (emulator.dir() / "body.json").string()};

  auto challenge = emulator.curl(put, emulator.device_url(id));
  REQUIRE(challenge.status == 401);
  CHECK(challenge.json()["keyName"] == "registration");
  device.import_blob(challenge.json()["authenticationKey"]);

  long long se = now_unix() + 2400;
  std::string token = "SharedAccessSignature sr=" + std::string(id_scope) + "%2fregistrations%2f" + id + "&sig=" +
                      sig_encode(device.hmac(c_sdk_string_to_sign(id, se))) + "&se=" + std::to_string(se) + "&skn=registration";
  auto with_token = put;
  with_token.insert(with_token.end(), {"-H", "Authorization: " + token});
  auto accepted = emulator.curl(with_token, emulator.device_url(id));
  REQUIRE(accepted.status == 202);
  auto poll = emulator.curl({"-H", "Authorization: " + token},
                            emulator.device_url(id, "operations/" + accepted.json()["operationId"].get<std::string>()));
  REQUIRE(poll.status == 200);
  auto state = poll.json()["registrationState"];
  CHECK(state["status"] == "assigned");
  CHECK(state["deviceId"] == id);
  REQUIRE(state["tpm"]["authenticationKey"].is_string());

  // The hub key: imported over the registration key; a hub SAS made with it passes the emulator's check.
  device.import_blob(state["tpm"]["authenticationKey"]);
  std::string hub_sr = state["assignedHub"].get<std::string>() + "/devices/" + id;
  long long hub_se = now_unix() + 3600;
  std::string hub_token = "SharedAccessSignature sr=" + hub_sr + "&sig=" +
                          sig_encode(device.hmac(hub_sr + "\n" + std::to_string(hub_se))) + "&se=" + std::to_string(hub_se);
  CHECK(emulator.admin("POST", "/hubSasCheck", {{"token", hub_token}}).json()["valid"] == true);
  // …and the registration key no longer is the hub key.
  CHECK(emulator.admin("POST", "/hubSasCheck", {{"token", "SharedAccessSignature sr=" + hub_sr + "&sig=" + sig_encode(device.hmac("x")) +
                                                              "&se=" + std::to_string(hub_se)}})
            .json()["valid"] == false);
}

TEST_CASE("a TPM SAS not signed with the challenge key is refused with 401") {
  Device device;
  Emulator emulator;
  const std::string id = "tpm-device-02";
  emulator.admin("PUT", "/enrollments/" + id, {{"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", device.ek_b64()}}}}}});
  json body = {{"registrationId", id}, {"tpm", {{"endorsementKey", device.ek_b64()}, {"storageRootKey", device.srk_b64()}}}};
  write_file(emulator.dir() / "body.json", body.dump());
  std::vector<std::string> put{"-X", "PUT", "--data-binary", "@" + (emulator.dir() / "body.json").string()};
  REQUIRE(emulator.curl(put, emulator.device_url(id)).status == 401);
  std::string token = openssl_sas("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", id, now_unix() + 60);
  put.insert(put.end(), {"-H", "Authorization: " + token});
  auto refused = emulator.curl(put, emulator.device_url(id));
  CHECK(refused.status == 401);
  CHECK(refused.json()["errorCode"] == 401002);
}

TEST_CASE("a tampered credential or duplicate is rejected by the TPM") {
  Device device;
  Emulator emulator;
  const std::string id = "tpm-device-03";
  emulator.admin("PUT", "/enrollments/" + id, {{"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", device.ek_b64()}}}}}});
  json body = {{"registrationId", id}, {"tpm", {{"endorsementKey", device.ek_b64()}, {"storageRootKey", device.srk_b64()}}}};
  write_file(emulator.dir() / "body.json", body.dump());
  auto challenge = emulator.curl({"-X", "PUT", "--data-binary", "@" + (emulator.dir() / "body.json").string()}, emulator.device_url(id));
  REQUIRE(challenge.status == 401);
  Bytes blob = *base64_decode(challenge.json()["authenticationKey"].get<std::string>());

  SECTION("one byte of the credential's integrity HMAC") {
    Bytes tampered = blob;
    tampered[10] ^= 0x01;
    device.write_blob_parts(tampered);
    auto r = device.activate();
    CHECK(r.status.code != 0);
  }
  SECTION("one byte of the duplicate") {
    Bytes tampered = blob;
    tampered[54 + 258 + 40] ^= 0x01;
    device.write_blob_parts(tampered);
    require_ok(device.activate(), "activatecredential of the untouched credential");
    auto r = device.import_and_load();
    CHECK(r.status.code != 0);
  }
  SECTION("nothing: the same blob imports (the test above can fail)") {
    device.write_blob_parts(blob);
    require_ok(device.activate(), "activatecredential");
    require_ok(device.import_and_load(), "import+load");
  }
}

TEST_CASE("an EK that differs from the enrollment's gets 401 and no challenge") {
  Device device;
  Device other;
  Emulator emulator;
  emulator.admin("PUT", "/enrollments/tpm-device-04", {{"attestation", {{"type", "tpm"}, {"tpm", {{"endorsementKey", other.ek_b64()}}}}}});
  json body = {{"registrationId", "tpm-device-04"}, {"tpm", {{"endorsementKey", device.ek_b64()}, {"storageRootKey", device.srk_b64()}}}};
  write_file(emulator.dir() / "body.json", body.dump());
  auto reply = emulator.curl({"-X", "PUT", "--data-binary", "@" + (emulator.dir() / "body.json").string()},
                             emulator.device_url("tpm-device-04"));
  CHECK(reply.status == 401);
  CHECK_FALSE(reply.json().contains("authenticationKey"));
  CHECK(reply.json()["errorCode"] == 401002);
}
