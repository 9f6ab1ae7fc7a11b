// Integration tests of the TPM module against a real swtpm. What is right is decided by independent
// tools: tpm2-tools (tpm2_readpublic, tpm2_createek, tpm2_makecredential, tpm2_getcap, tpm2_nvread),
// the OpenSSL command line and coreutils' base32. Each test starts its own swtpm.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <fmt/format.h>
#include <thread>

#include "common/encoding.h"
#include "tests/integration/tpm/dps_blob.h"
#include "tests/support/process.h"
#include "tests/support/swtpm.h"
#include "tpm/device.h"
#include "tpm/json.h"
#include "tpm/worker.h"

using namespace edgeprov;
using namespace std::chrono_literals;
using Catch::Matchers::ContainsSubstring;

namespace {

tpm::Options options_for(const test::Swtpm& swtpm) {
  tpm::Options o;
  o.tcti = swtpm.tcti();
  return o;
}

std::string must(const test::RunResult& r, const std::string& what) {
  INFO(what << ":\n" << r.output);
  REQUIRE(r.status.exited());
  REQUIRE(r.status.code == 0);
  return r.output;
}

// The marshalled TPM2B_PUBLIC at `handle`, as tpm2_readpublic writes it (no edgeprov client may be connected).
Bytes readpublic(test::Swtpm& swtpm, const std::string& handle, const test::TempDir& dir) {
  const auto file = dir / ("pub-" + handle);
  must(swtpm.tpm2({"tpm2_readpublic", "-c", handle, "-o", file.string()}), "tpm2_readpublic " + handle);
  return to_bytes(test::read_file(file));
}

std::string sh(const std::string& script) {
  const auto r = test::run({.argv = {"sh", "-c", script}});
  INFO(script << "\n" << r.output);
  REQUIRE(r.status.code == 0);
  std::string out = r.output;
  while (!out.empty() && (out.back() == '\n' || out.back() == '\r')) out.pop_back();
  return out;
}

// HMAC-SHA-256 by the OpenSSL command line.
std::string openssl_hmac(const Bytes& key, const std::filesystem::path& data_file) {
  const auto out = sh(fmt::format("openssl dgst -sha256 -mac HMAC -macopt hexkey:{} -r '{}'", hex_encode(key),
                                  data_file.string()));
  return out.substr(0, out.find(' '));
}

struct Provisioned {
  Bytes ek, srk;
};

// Lets edgeprov create EK and SRK, then reads them back with tpm2_readpublic.
Provisioned provision_keys(test::Swtpm& swtpm, const test::TempDir& dir) {
  {
    tpm::Device device(options_for(swtpm));
    device.keys();
  }
  return {readpublic(swtpm, "0x81010001", dir), readpublic(swtpm, "0x81000001", dir)};
}

std::uint16_t u16_at(const Bytes& b, std::size_t at) { return static_cast<std::uint16_t>((b[at] << 8) | b[at + 1]); }

Bytes tampered(const test::DpsBlob& blob, int part, bool truncate) {
  Bytes out = blob.blob;
  const std::size_t at = blob.part_offset[part];
  const std::size_t size = u16_at(out, at);
  if (truncate) {
    // One byte shorter, size prefix adjusted: the blob stays well-framed, the part itself is cut.
    out.erase(out.begin() + static_cast<std::ptrdiff_t>(at + 2 + size - 1));
    out[at] = static_cast<std::uint8_t>((size - 1) >> 8);
    out[at + 1] = static_cast<std::uint8_t>((size - 1) & 0xFF);
  } else {
    out[at + 2 + size / 2] ^= 0x5A;
  }
  return out;
}

}  // namespace

TEST_CASE("on an empty TPM the EK and SRK are created, persisted, and read back byte for byte by tpm2_readpublic") {
  test::Swtpm swtpm;
  test::TempDir dir;
  tpm::PublicKeys keys;
  {
    tpm::Device device(options_for(swtpm));
    keys = device.keys();
    // A second read on the same connection gives the same bytes (the persisted keys).
    CHECK(device.keys().endorsement_key == keys.endorsement_key);
  }
  const Bytes ek = readpublic(swtpm, "0x81010001", dir);
  const Bytes srk = readpublic(swtpm, "0x81000001", dir);
  CHECK(keys.endorsement_key == ek);
  CHECK(keys.storage_root_key == srk);
  // Layout of docs/dps-protocol.md §5.3: RSA-2048 EK (316 bytes) and SRK (284 bytes).
  CHECK(ek.size() == 316);
  CHECK(srk.size() == 284);
  CHECK_THAT(base64_encode(ek), Catch::Matchers::StartsWith("AToAAQALAAMAsgAgg3GXZ0SEs/gakMyNRqXXJP1S"));
  CHECK(hex_encode(ByteView(srk).first(12)) == "011a0001000b000304720000");

  // The registration id as the SDK tool derives it, computed by openssl and coreutils' base32.
  const auto file = dir / "pub-0x81010001";
  const auto expected = sh(fmt::format("openssl dgst -sha256 -binary '{}' | base32 | tr A-Z a-z | tr -d '=\\n'",
                                       file.string()));
  CHECK(keys.registration_id == expected);
  CHECK(keys.registration_id.size() == 52);
}

TEST_CASE("an EK persisted beforehand by tpm2_createek is used unchanged") {
  test::Swtpm swtpm;
  test::TempDir dir;
  must(swtpm.tpm2({"tpm2_createek", "-c", "0x81010001", "-G", "rsa", "-u", (dir / "ek.pub").string()}),
       "tpm2_createek");
  const Bytes before = readpublic(swtpm, "0x81010001", dir);
  Bytes ours;
  {
    tpm::Device device(options_for(swtpm));
    ours = device.keys().endorsement_key;
  }
  CHECK(ours == before);
  CHECK(readpublic(swtpm, "0x81010001", dir) == before);

  // tpm2_createek uses the same TCG template: without it, edgeprov derives the very same EK.
  must(swtpm.tpm2({"tpm2_evictcontrol", "-C", "o", "-c", "0x81010001"}), "tpm2_evictcontrol");
  {
    tpm::Device device(options_for(swtpm));
    CHECK(device.keys().endorsement_key == before);
  }
}

TEST_CASE("an EK persisted by swtpm_setup is used unchanged") {
  test::Swtpm swtpm({.manufactured = true});
  test::TempDir dir;
  const Bytes before = readpublic(swtpm, "0x81010001", dir);
  Bytes ours;
  {
    tpm::Device device(options_for(swtpm));
    ours = device.keys().endorsement_key;
  }
  CHECK(ours == before);
}

TEST_CASE("the EK created here has the public key of the manufacturer's EK certificate") {
  test::Swtpm swtpm({.manufactured = true});
  test::TempDir dir;
  // Remove the persisted EK so edgeprov must derive it again from the endorsement seed.
  must(swtpm.tpm2({"tpm2_evictcontrol", "-C", "o", "-c", "0x81010001"}), "tpm2_evictcontrol");
  Bytes ek;
  {
    tpm::Device device(options_for(swtpm));
    ek = device.keys().endorsement_key;
  }
  must(swtpm.tpm2({"tpm2_nvread", "0x01c00002", "-C", "o", "-o", (dir / "ekcert.der").string()}), "tpm2_nvread");
  const auto modulus =
      sh(fmt::format("openssl x509 -inform der -in '{}' -noout -modulus", (dir / "ekcert.der").string()));
  REQUIRE(modulus.starts_with("Modulus="));
  std::string ours = hex_encode(ByteView(ek).last(256));
  for (auto& c : ours) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(modulus.substr(8) == ours);
}

TEST_CASE("an imported DPS key signs exactly like OpenSSL's HMAC-SHA-256 with that key, short and long data") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto keys = provision_keys(swtpm, dir);
  const auto blob = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  REQUIRE(blob.blob.size() == 766);  // §11: 54 + 258 + 144 + 258 + 50 + 2

  const std::string short_data = "registration\n1700000000";
  std::string long_data;
  for (int i = 0; i < 3000; ++i) long_data.push_back(static_cast<char>('a' + i % 26));
  test::write_file(dir / "short", short_data);
  test::write_file(dir / "long", long_data);
  const auto second = test::build_dps_blob(keys.ek, keys.srk, dir.path());

  tpm::Device device(options_for(swtpm));
  CHECK_FALSE(device.auth_key_present());
  const auto imported = device.import_auth_key(blob.blob);
  CHECK(imported.handle == 0x81000100);
  CHECK_FALSE(imported.replaced);
  CHECK(device.auth_key_present());
  CHECK(hex_encode(device.sign(tpm::PersistedKey{}, as_bytes(short_data))) == openssl_hmac(blob.hmac_key, dir / "short"));
  CHECK(hex_encode(device.sign(tpm::PersistedKey{}, as_bytes(long_data))) == openssl_hmac(blob.hmac_key, dir / "long"));

  // The second blob (the hub key) replaces the first.
  CHECK(device.import_auth_key(second.blob).replaced);
  CHECK(hex_encode(device.sign(tpm::PersistedKey{}, as_bytes(short_data))) == openssl_hmac(second.hmac_key, dir / "short"));
}

// Expects `f` to throw a tpm::Error of `kind`; returns it.
template <typename F>
tpm::Error fails_with(tpm::ErrorKind kind, F&& f) {
  try {
    f();
  } catch (const tpm::Error& e) {
    INFO(e.what());
    CHECK(e.kind() == kind);
    return e;
  }
  FAIL("no tpm::Error of kind " << tpm::to_string(kind));
  throw std::logic_error("unreachable");
}

TEST_CASE("a loaded key signs with its own key while the persisted one keeps signing, until persist_key replaces it") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto keys = provision_keys(swtpm, dir);
  const auto hub = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  const auto challenge = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  const auto next = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  test::write_file(dir / "data", "hello");
  const auto hmac_of = [&](const test::DpsBlob& blob) { return openssl_hmac(blob.hmac_key, dir / "data"); };
  const tpm::PersistedKey persisted;

  tpm::Device device(options_for(swtpm));
  device.import_auth_key(hub.blob);  // the hub key of an earlier assignment
  const auto loaded = device.load_key(challenge.blob);
  CHECK(hex_encode(device.sign(loaded, as_bytes("hello"))) == hmac_of(challenge));
  CHECK(hex_encode(device.sign(persisted, as_bytes("hello"))) == hmac_of(hub));
  CHECK(device.info().transient_objects == 1);
  CHECK(device.info().persistent_handles.size() == 3);  // EK, SRK, the hub key: loading persisted nothing

  const auto replaced = device.persist_key(loaded);
  CHECK(replaced.replaced);
  CHECK(replaced.handle == 0x81000100);
  CHECK(hex_encode(device.sign(persisted, as_bytes("hello"))) == hmac_of(challenge));
  CHECK(device.info().transient_objects == 0);
  fails_with(tpm::ErrorKind::transient_key_lost, [&] { device.sign(loaded, as_bytes("hello")); });

  // One transient key at a time: loading another flushes the first.
  const auto first = device.load_key(hub.blob);
  const auto second = device.load_key(next.blob);
  CHECK_FALSE(first == second);
  CHECK(device.info().transient_objects == 1);
  fails_with(tpm::ErrorKind::transient_key_lost, [&] { device.sign(first, as_bytes("hello")); });
  CHECK(hex_encode(device.sign(second, as_bytes("hello"))) == hmac_of(next));
  device.flush_key(first);  // no longer loaded: nothing happens
  CHECK(device.info().transient_objects == 1);
  device.flush_key(second);
  CHECK(device.info().transient_objects == 0);
  const auto gone = fails_with(tpm::ErrorKind::transient_key_lost, [&] { device.persist_key(second); });
  CHECK_THAT(std::string(gone.what()), ContainsSubstring("next registration attempt"));
  CHECK(hex_encode(device.sign(persisted, as_bytes("hello"))) == hmac_of(challenge));
}

TEST_CASE("a connection closed with a key loaded leaves no transient object in a TPM without a resource manager") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto keys = provision_keys(swtpm, dir);
  const auto blob = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  {
    tpm::Device device(options_for(swtpm));
    device.load_key(blob.blob);
    CHECK(device.info().transient_objects == 1);
  }
  const auto out = must(swtpm.tpm2({"tpm2_getcap", "handles-transient"}), "tpm2_getcap handles-transient");
  INFO(out);
  CHECK(out.find("0x") == std::string::npos);
  const auto persistent = must(swtpm.tpm2({"tpm2_getcap", "handles-persistent"}), "tpm2_getcap handles-persistent");
  CHECK_THAT(persistent, !ContainsSubstring("0x81000100"));
}

TEST_CASE("a TPM power loss after the challenge key was loaded loses that key (a transient error) and leaves the persisted hub key untouched") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto keys = provision_keys(swtpm, dir);
  const auto hub = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  const auto challenge = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  test::write_file(dir / "data", "hello");
  const tpm::PersistedKey persisted;

  tpm::Worker worker(options_for(swtpm));
  worker.persist_key(worker.load_key(hub.blob));  // the hub key of the assignment served
  const auto loaded = worker.load_key(challenge.blob);
  CHECK(hex_encode(worker.sign(loaded, to_bytes("hello"))) == openssl_hmac(challenge.hmac_key, dir / "data"));

  SECTION("the TPM is back before the next call: the connection carries on, the TPM no longer has the key") {
    swtpm.kill();
    swtpm.restart();
    const auto lost = fails_with(tpm::ErrorKind::transient_key_lost, [&] { worker.sign(loaded, to_bytes("hello")); });
    CHECK(lost.command() == "sign with the DPS key of this attempt");
    CHECK(tpm::is_unloaded_reference(lost.rc()));  // what the TPM said
    CHECK(worker.snapshot().connects == 1);
  }
  SECTION("a call while the TPM is away: the connection is replaced, and the new one never had the key") {
    swtpm.kill();
    fails_with(tpm::ErrorKind::connection, [&] { worker.sign(loaded, to_bytes("hello")); });
    CHECK_FALSE(worker.snapshot().available);
    swtpm.restart();
    fails_with(tpm::ErrorKind::transient_key_lost, [&] { worker.sign(loaded, to_bytes("hello")); });
    CHECK(worker.snapshot().connects >= 2);
  }
  CHECK(tpm::passes_by_waiting(tpm::ErrorKind::transient_key_lost));  // so the attempt fails as transient
  CHECK(worker.snapshot().available);  // the TPM itself answers
  // Persisting the lost key is refused before the old key is touched.
  fails_with(tpm::ErrorKind::transient_key_lost, [&] { worker.persist_key(loaded); });
  CHECK(hex_encode(worker.sign(persisted, to_bytes("hello"))) == openssl_hmac(hub.hmac_key, dir / "data"));

  // The next attempt's challenge loads and signs.
  const auto again = worker.load_key(challenge.blob);
  CHECK(hex_encode(worker.sign(again, to_bytes("hello"))) == openssl_hmac(challenge.hmac_key, dir / "data"));
  CHECK(worker.info().transient_objects == 1);
  worker.flush_key(again);
  CHECK(worker.info().transient_objects == 0);  // calls run in order: the flush came first
}

TEST_CASE("each of the five blob parts flipped or truncated gives an error naming the part, and the previous key keeps signing") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto keys = provision_keys(swtpm, dir);
  const auto good = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  const auto other = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  test::write_file(dir / "data", "hello");
  const auto expected = openssl_hmac(good.hmac_key, dir / "data");

  tpm::Device device(options_for(swtpm));
  device.import_auth_key(good.blob);
  const char* names[5] = {"credential", "secret", "duplicate", "seed", "public"};
  for (int part = 0; part < 5; ++part) {
    for (bool truncate : {false, true}) {
      INFO("part " << names[part] << (truncate ? " truncated" : " flipped"));
      try {
        device.import_auth_key(tampered(other, part, truncate));
        FAIL("a tampered blob was imported");
      } catch (const tpm::Error& e) {
        INFO(e.what());
        CHECK(e.kind() == tpm::ErrorKind::bad_blob);
        CHECK_THAT(std::string(e.what()), ContainsSubstring(names[part]));
      }
      CHECK(hex_encode(device.sign(tpm::PersistedKey{}, as_bytes("hello"))) == expected);
    }
  }
  // A blob cut short names the part where it ends.
  Bytes cut(other.blob.begin(), other.blob.begin() + static_cast<std::ptrdiff_t>(other.part_offset[3] + 10));
  try {
    device.import_auth_key(cut);
    FAIL("a cut blob was imported");
  } catch (const tpm::Error& e) {
    CHECK(e.blob_part() == tpm::BlobPart::seed);
    CHECK_THAT(std::string(e.what()), ContainsSubstring("truncated"));
  }
  const auto info = device.info();
  CHECK(info.transient_objects == 0);
  CHECK(info.loaded_sessions == 0);
}

TEST_CASE("200 imports in a row leave no session or transient object behind") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto keys = provision_keys(swtpm, dir);
  const auto blob = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  auto bad = blob.blob;
  bad[blob.part_offset[2] + 40] ^= 1;  // fails at Import, after the policy session was used
  {
    tpm::Device device(options_for(swtpm));
    for (int i = 0; i < 200; ++i) {
      device.import_auth_key(blob.blob);
      if (i % 20 == 0) CHECK_THROWS_AS(device.import_auth_key(bad), tpm::Error);
    }
    const auto info = device.info();
    CHECK(info.transient_objects == 0);
    CHECK(info.loaded_sessions == 0);
    CHECK(info.auth_key_present);
  }
  // Independently: tpm2_getcap lists no transient object and no loaded or saved session.
  for (const char* cap : {"handles-transient", "handles-loaded-session", "handles-saved-session"}) {
    const auto out = must(swtpm.tpm2({"tpm2_getcap", cap}), cap);
    INFO(cap << ": " << out);
    CHECK(out.find("0x") == std::string::npos);
  }
}

TEST_CASE("hierarchy passwords set with tpm2_changeauth work when configured and name the config key when wrong") {
  test::Swtpm swtpm;
  test::TempDir dir;
  must(swtpm.tpm2({"tpm2_changeauth", "-c", "e", "endorsement-pw"}), "tpm2_changeauth e");
  must(swtpm.tpm2({"tpm2_changeauth", "-c", "o", "owner-pw"}), "tpm2_changeauth o");
  auto options = options_for(swtpm);
  options.config_file = "/etc/edgeprov/config.toml";

  SECTION("wrong or missing passwords") {
    options.endorsement_auth = Secret("guessed-Pa55");
    options.owner_auth = Secret("owner-pw");
    try {
      tpm::Device(options).keys();
      FAIL("the EK was created with a wrong endorsement password");
    } catch (const tpm::Error& e) {
      CHECK(e.kind() == tpm::ErrorKind::hierarchy_auth);
      CHECK_THAT(std::string(e.what()), ContainsSubstring("[tpm.hierarchy_authorization] endorsement"));
      CHECK_THAT(std::string(e.what()), ContainsSubstring("/etc/edgeprov/config.toml"));
      CHECK_THAT(std::string(e.what()), !ContainsSubstring("guessed-Pa55"));  // never the password itself
    }
    options.endorsement_auth = Secret("endorsement-pw");
    options.owner_auth.reset();
    try {
      tpm::Device(options).keys();
      FAIL("the EK was persisted without the owner password");
    } catch (const tpm::Error& e) {
      CHECK(e.kind() == tpm::ErrorKind::hierarchy_auth);
      CHECK_THAT(std::string(e.what()), ContainsSubstring("[tpm.hierarchy_authorization] owner"));
    }
  }
  SECTION("right passwords, then a wrong endorsement password at import") {
    options.endorsement_auth = Secret("endorsement-pw");
    options.owner_auth = Secret("owner-pw");
    {
      tpm::Device device(options);
      device.keys();
    }
    const Bytes ek = readpublic(swtpm, "0x81010001", dir), srk = readpublic(swtpm, "0x81000001", dir);
    const auto blob = test::build_dps_blob(ek, srk, dir.path());
    test::write_file(dir / "data", "hello");
    {
      tpm::Device device(options);
      device.import_auth_key(blob.blob);
      CHECK(hex_encode(device.sign(tpm::PersistedKey{}, as_bytes("hello"))) == openssl_hmac(blob.hmac_key, dir / "data"));
    }
    options.endorsement_auth = Secret("not-it");
    tpm::Device device(options);
    try {
      device.import_auth_key(blob.blob);
      FAIL("PolicySecret passed with a wrong endorsement password");
    } catch (const tpm::Error& e) {
      CHECK(e.command() == "PolicySecret");
      CHECK_THAT(std::string(e.what()), ContainsSubstring("[tpm.hierarchy_authorization] endorsement"));
    }
    CHECK(hex_encode(device.sign(tpm::PersistedKey{}, as_bytes("hello"))) == openssl_hmac(blob.hmac_key, dir / "data"));
  }
}

TEST_CASE("a swtpm killed mid-operation gives a connection error, and the same worker works again once a swtpm is back on the port") {
  test::Swtpm swtpm;
  tpm::Worker worker(options_for(swtpm));
  const auto before = worker.keys();
  // The killer strikes once the worker is busy calling the TPM in a loop (after 20 calls), not after a
  // guessed delay.
  std::mutex mutex;
  std::condition_variable busy;
  int calls = 0;
  std::thread killer([&] {
    std::unique_lock lock(mutex);
    busy.wait(lock, [&] { return calls >= 20; });
    lock.unlock();
    swtpm.kill();
  });
  std::optional<tpm::Error> failure;
  for (int i = 0; i < 100000 && !failure; ++i) {
    try {
      worker.keys();
    } catch (const tpm::Error& e) {
      failure = e;
    }
    {
      std::lock_guard lock(mutex);
      ++calls;
    }
    busy.notify_one();
  }
  killer.join();
  REQUIRE(failure);
  INFO(failure->what());
  CHECK(failure->kind() == tpm::ErrorKind::connection);
  CHECK_THAT(std::string(failure->what()), ContainsSubstring(swtpm.tcti()));
  CHECK_FALSE(worker.snapshot().available);

  swtpm.restart();
  const auto after = worker.keys();
  CHECK(after.endorsement_key == before.endorsement_key);
  CHECK(worker.snapshot().available);
  CHECK(worker.snapshot().connects >= 2);
}

TEST_CASE("asynchronous calls run on the TPM thread and their results are posted to the caller's executor") {
  test::Swtpm swtpm;
  tpm::Worker worker(options_for(swtpm));
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::optional<tpm::Result<tpm::PublicKeys>> keys;
  std::optional<tpm::Result<Sha256Digest>> signature;
  std::thread::id keys_thread, sign_thread;
  worker.async_keys(io.get_executor(), [&](tpm::Result<tpm::PublicKeys> r) {
    keys_thread = std::this_thread::get_id();
    keys.emplace(std::move(r));
  });
  worker.async_sign(tpm::PersistedKey{}, to_bytes("x"), io.get_executor(), [&](tpm::Result<Sha256Digest> r) {
    sign_thread = std::this_thread::get_id();
    signature.emplace(std::move(r));
    work.reset();  // the keys' handler ran before: handlers come back in order
  });
  io.run_for(30s);
  REQUIRE(keys);
  REQUIRE(keys->ok());
  CHECK(keys_thread == std::this_thread::get_id());
  CHECK(worker.snapshot().registration_id == keys->value().registration_id);
  REQUIRE(signature);
  CHECK(sign_thread == std::this_thread::get_id());
  const auto description = worker.describe();
  CHECK(description.keys.endorsement_key == keys->value().endorsement_key);
  CHECK(description.info.endorsement_key_present);
  CHECK(worker.snapshot().auth_key_present == false);
  REQUIRE_FALSE(signature->ok());  // nothing imported yet
  CHECK(signature->error().kind() == tpm::ErrorKind::no_auth_key);
}

TEST_CASE("a burst of 200 cached-description requests costs the TPM one describe, and a signature is not queued behind it") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto keys = provision_keys(swtpm, dir);
  const auto blob = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  tpm::Worker worker(options_for(swtpm));
  worker.persist_key(worker.load_key(blob.blob));

  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::vector<std::string> completed;  // in the order the TPM thread finished them (handlers are posted in order)
  std::vector<tpm::Result<tpm::Description>> described;
  std::optional<tpm::Result<Sha256Digest>> signature;
  for (int i = 0; i < 200; ++i) {
    worker.async_cached_description(io.get_executor(), [&](tpm::Result<tpm::Description> d) {
      completed.push_back("describe");
      described.push_back(std::move(d));
    });
  }
  worker.async_sign(tpm::PersistedKey{}, to_bytes("hello"), io.get_executor(), [&](tpm::Result<Sha256Digest> mac) {
    completed.push_back("sign");
    signature.emplace(std::move(mac));
  });
  while ((described.size() < 200 || !signature) && io.run_one_for(30s) > 0) {
  }
  REQUIRE(described.size() == 200);
  REQUIRE(signature);
  REQUIRE(signature->ok());
  test::write_file(dir / "data", "hello");
  CHECK(hex_encode(signature->value()) == openssl_hmac(blob.hmac_key, dir / "data"));
  // One read from the TPM answered all 200: they carry the same read time and the key the import put there.
  for (const auto& d : described) {
    REQUIRE(d.ok());
    CHECK(d.value().read_at == described.front().value().read_at);
    CHECK(d.value().info.auth_key_present);
  }
  // The refresh ran at the lowest priority: the signature, queued after the burst, ran before it unless
  // the TPM thread had already started the refresh (then the signature waited for that one describe only).
  const auto sign_at = std::find(completed.begin(), completed.end(), "sign") - completed.begin();
  CHECK((sign_at == 0 || sign_at == 200));

  // Cached now: the next request is answered without the TPM (same read time), until something changes.
  std::optional<tpm::Result<tpm::Description>> again;
  worker.async_cached_description(io.get_executor(), [&](tpm::Result<tpm::Description> d) { again.emplace(std::move(d)); });
  while (!again && io.run_one_for(30s) > 0) {
  }
  REQUIRE(again);
  CHECK(again->value().read_at == described.front().value().read_at);
  worker.persist_key(worker.load_key(test::build_dps_blob(keys.ek, keys.srk, dir.path()).blob));  // changes the TPM
  std::optional<tpm::Result<tpm::Description>> after_import;
  worker.async_cached_description(io.get_executor(),
                                  [&](tpm::Result<tpm::Description> d) { after_import.emplace(std::move(d)); });
  while (!after_import && io.run_one_for(30s) > 0) {
  }
  REQUIRE(after_import);
  REQUIRE(after_import->ok());
  CHECK(after_import->value().read_at > described.front().value().read_at);
}

TEST_CASE("local users' TPM work beyond its queue's capacity is refused as busy, and credential work overtakes what is queued") {
  test::Swtpm swtpm;
  tpm::Worker worker(options_for(swtpm), tpm::QueueCapacity{.credential = 8, .administrator = 8, .local_user = 4});
  worker.keys();  // EK and SRK in place, connection open
  boost::asio::io_context io;
  auto work = boost::asio::make_work_guard(io);
  std::vector<std::string> completed;
  int busy = 0;
  for (int i = 0; i < 10; ++i) {
    worker.async_describe(
        io.get_executor(),
        [&](tpm::Result<tpm::Description> d) {
          if (!d.ok() && d.error().kind() == tpm::ErrorKind::busy) {
            ++busy;
            CHECK_THAT(std::string(d.error().what()), ContainsSubstring("the TPM queue for local user work is full"));
            return;
          }
          REQUIRE(d.ok());
          completed.push_back("describe");
        },
        tpm::Priority::local_user);
  }
  bool keys_done = false;
  worker.async_keys(io.get_executor(), [&](tpm::Result<tpm::PublicKeys> k) {
    REQUIRE(k.ok());
    completed.push_back("keys");
    keys_done = true;
  });
  while ((completed.size() + static_cast<std::size_t>(busy) < 11) && io.run_one_for(30s) > 0) {
  }
  // Four wait at most; a fifth may already run when the rest arrive.
  CHECK((busy == 6 || busy == 5));
  REQUIRE(keys_done);
  const auto keys_at = std::find(completed.begin(), completed.end(), "keys") - completed.begin();
  CHECK(keys_at <= 1);  // behind at most the describe already running
  CHECK(completed.size() == static_cast<std::size_t>(11 - busy));
}

TEST_CASE("an object that is not an HMAC key at the auth key handle is refused, not overwritten") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto keys = provision_keys(swtpm, dir);
  must(swtpm.tpm2({"tpm2_createprimary", "-C", "o", "-c", (dir / "prim.ctx").string()}), "tpm2_createprimary");
  must(swtpm.tpm2({"tpm2_evictcontrol", "-C", "o", "-c", (dir / "prim.ctx").string(), "0x81000100"}),
       "tpm2_evictcontrol");
  const auto blob = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  {
    tpm::Device device(options_for(swtpm));
    try {
      device.import_auth_key(blob.blob);
      FAIL("the foreign object was replaced");
    } catch (const tpm::Error& e) {
      CHECK(e.kind() == tpm::ErrorKind::handle_occupied);
      CHECK_THAT(std::string(e.what()), ContainsSubstring("0x81000100"));
      CHECK_THAT(std::string(e.what()), ContainsSubstring("auth_key_index"));
    }
  }
  // Still there, unchanged in kind.
  const auto out = must(swtpm.tpm2({"tpm2_readpublic", "-c", "0x81000100"}), "tpm2_readpublic");
  CHECK_THAT(out, ContainsSubstring("rsa"));
}

TEST_CASE("a TCTI naming a missing device node says which node and how to fix it") {
  tpm::Options options;
  options.tcti = "device:/dev/edgeprov-no-such-tpm";
  try {
    tpm::Device device(options);
    FAIL("opened a missing device");
  } catch (const tpm::Error& e) {
    CHECK(e.kind() == tpm::ErrorKind::device_missing);
    CHECK_THAT(std::string(e.what()), ContainsSubstring("/dev/edgeprov-no-such-tpm"));
    CHECK_THAT(std::string(e.what()), ContainsSubstring("[tpm] tcti"));
  }
}

TEST_CASE("a simulator that is not running gives a connection error naming the TCTI") {
  const auto port = test::free_loopback_port();
  tpm::Options options;
  options.tcti = fmt::format("swtpm:host=127.0.0.1,port={}", port);
  try {
    tpm::Device device(options);
    FAIL("connected to nothing");
  } catch (const tpm::Error& e) {
    CHECK(e.kind() == tpm::ErrorKind::connection);
    CHECK_THAT(std::string(e.what()), ContainsSubstring(options.tcti));
  }
}

TEST_CASE("a TPM in dictionary-attack lockout is reported as such, with the way out, and info() shows it") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto keys = provision_keys(swtpm, dir);
  const auto blob = test::build_dps_blob(keys.ek, keys.srk, dir.path());
  {
    tpm::Device device(options_for(swtpm));
    device.import_auth_key(blob.blob);
  }
  // Drive the TPM into lockout with tpm2-tools: a DA-protected key with a password, used twice wrongly.
  must(swtpm.tpm2({"tpm2_dictionarylockout", "--setup-parameters", "--max-tries=2", "--recovery-time=600",
                   "--lockout-recovery-time=600"}),
       "tpm2_dictionarylockout");
  const auto f = [&](const char* name) { return (dir / name).string(); };
  must(swtpm.tpm2({"tpm2_create", "-C", "0x81000001", "-G", "keyedhash", "-p", "right", "-u", f("k.pub"), "-r",
                   f("k.priv")}),
       "tpm2_create");
  for (int i = 0; i < 3; ++i) {
    must(swtpm.tpm2({"tpm2_flushcontext", "-t"}), "tpm2_flushcontext");
    const auto load = swtpm.tpm2({"tpm2_load", "-C", "0x81000001", "-u", f("k.pub"), "-r", f("k.priv"), "-c", f("k.ctx")});
    if (load.status.code == 0) {
      test::write_file(dir / "msg", "hi");
      swtpm.tpm2({"tpm2_hmac", "-c", f("k.ctx"), "-p", "wrong", f("msg")});
    }
  }
  must(swtpm.tpm2({"tpm2_flushcontext", "-t"}), "tpm2_flushcontext");

  tpm::Device device(options_for(swtpm));
  const auto info = device.info();
  CHECK(info.dictionary_attack.in_lockout);
  CHECK(info.dictionary_attack.max_tries == 2);
  CHECK(info.dictionary_attack.recovery_seconds == 600);
  try {
    device.sign(tpm::PersistedKey{}, as_bytes("hello"));
    FAIL("signed while the TPM is in lockout");
  } catch (const tpm::Error& e) {
    INFO(e.what());
    CHECK(e.kind() == tpm::ErrorKind::lockout);
    CHECK(e.command() == "HMAC");
    CHECK_THAT(std::string(e.what()), ContainsSubstring("tpm2_dictionarylockout --clear-lockout"));
  }
}

TEST_CASE("info() reports the facts tpm2_getcap reports") {
  test::Swtpm swtpm;
  test::TempDir dir;
  const auto fixed = must(swtpm.tpm2({"tpm2_getcap", "properties-fixed"}), "tpm2_getcap");
  tpm::Info info;
  {
    tpm::Device device(options_for(swtpm));
    device.keys();
    info = device.info();
  }
  // tpm2_getcap prints e.g. `TPM2_PT_MANUFACTURER:\n  raw: 0x49424D00\n  value: "IBM"`.
  CHECK_THAT(fixed, ContainsSubstring("value: \"" + info.manufacturer + "\""));
  CHECK(info.manufacturer == "IBM");  // swtpm is libtpms, manufacturer IBM
  CHECK_THAT(fixed, ContainsSubstring(fmt::format("TPM2_PT_REVISION:\n  raw: 0x{:X}", info.spec_revision)));
  CHECK(info.spec_family == "2.0");
  CHECK(info.endorsement_key_present);
  CHECK(info.storage_root_key_present);
  CHECK_FALSE(info.auth_key_present);
  CHECK(info.auth_key_handle == 0x81000100);
  CHECK_FALSE(info.dictionary_attack.in_lockout);
  const auto persistent = must(swtpm.tpm2({"tpm2_getcap", "handles-persistent"}), "tpm2_getcap handles-persistent");
  for (auto h : info.persistent_handles) CHECK_THAT(persistent, ContainsSubstring(fmt::format("0x{:X}", h)));
}

TEST_CASE("a TPM that was powered on but never started gets TPM2_Startup(CLEAR) and then works") {
  // swtpm without `startup-clear` answers TPM_RC_INITIALIZE until someone sends Startup, as a TPM
  // whose firmware did not start it would.
  test::TempDir state;
  const auto port = test::free_loopback_port_pair();
  test::Process swtpm({.argv = {"swtpm", "socket", "--tpm2", "--server",
                                fmt::format("type=tcp,port={},bindaddr=127.0.0.1", port), "--ctrl",
                                fmt::format("type=tcp,port={},bindaddr=127.0.0.1", port + 1), "--tpmstate",
                                "dir=" + state.path().string(), "--flags", "not-need-init"}});
  REQUIRE(test::wait_for_tcp("127.0.0.1", static_cast<unsigned short>(port + 1), 10s));
  tpm::Options options;
  options.tcti = fmt::format("swtpm:host=127.0.0.1,port={}", port);
  tpm::Device device(options);
  CHECK(device.keys().endorsement_key.size() == 316);
  bool started = false;
  for (const auto& r : device.command_log()) started = started || tpm::command_name(r.code) == "Startup";
  CHECK(started);
}

namespace {

// tpm2_getcap's view of one variable property, e.g. "TPM2_PT_LOCKOUT_COUNTER: 0x3" → 3.
std::uint32_t getcap_variable(test::Swtpm& swtpm, const std::string& name) {
  const auto out = must(swtpm.tpm2({"tpm2_getcap", "properties-variable"}), "tpm2_getcap properties-variable");
  const auto at = out.find(name + ": 0x");
  REQUIRE(at != std::string::npos);
  return static_cast<std::uint32_t>(std::stoul(out.substr(at + name.size() + 4), nullptr, 16));
}

// The DPS key imported, DA limit and interval set with tpm2-tools, then the way a device loses power:
// the key is used, then the TPM stops without TPM2_Shutdown (swtpm killed) and starts again, `losses`
// times. Each such start counts one failed authorization against DA-protected keys.
void lose_power_after_signing(test::Swtpm& swtpm, tpm::Worker& worker, int losses) {
  for (int i = 0; i < losses; ++i) {
    worker.sign(tpm::PersistedKey{}, to_bytes("before the power loss"));
    swtpm.kill();
    swtpm.restart();
  }
}

struct LockoutWorld {
  test::Swtpm swtpm;
  test::TempDir dir;
  LockoutWorld(std::uint32_t max_tries, std::uint32_t interval) {
    const auto keys = provision_keys(swtpm, dir);
    const auto blob = test::build_dps_blob(keys.ek, keys.srk, dir.path());
    {
      tpm::Device device(options_for(swtpm));
      device.import_auth_key(blob.blob);
    }
    must(swtpm.tpm2({"tpm2_dictionarylockout", "--setup-parameters", fmt::format("--max-tries={}", max_tries),
                     fmt::format("--recovery-time={}", interval), "--lockout-recovery-time=600"}),
         "tpm2_dictionarylockout --setup-parameters");
  }
};

}  // namespace

TEST_CASE("power lost three times after the DPS key was used locks it out; the error says when it recovers and how to clear it") {
  LockoutWorld world(3, 1000);
  tpm::Worker worker(options_for(world.swtpm));
  lose_power_after_signing(world.swtpm, worker, 3);

  std::optional<tpm::Error> failure;
  try {
    worker.sign(tpm::PersistedKey{}, to_bytes("after three power losses"));
  } catch (const tpm::Error& e) {
    failure = e;
  }
  REQUIRE(failure);
  INFO(failure->what());
  CHECK(failure->kind() == tpm::ErrorKind::lockout);
  CHECK(failure->command() == "HMAC");
  CHECK(failure->rc() == 0x921);  // TPM_RC_LOCKOUT
  REQUIRE(failure->dictionary_attack());
  CHECK(failure->dictionary_attack()->in_lockout);
  CHECK(failure->dictionary_attack()->counter == 3);
  CHECK(failure->dictionary_attack()->max_tries == 3);
  CHECK(failure->dictionary_attack()->interval_seconds == 1000);
  CHECK(tpm::time_until_usable(*failure->dictionary_attack()) == 1000s);
  const std::string what = failure->what();
  CHECK_THAT(what, ContainsSubstring("counted 3 failed authorizations and locks at 3"));
  CHECK_THAT(what, ContainsSubstring("in at most 16 min 40 s of powered-on time"));
  CHECK_THAT(what, ContainsSubstring("tpm2_dictionarylockout --clear-lockout"));
  CHECK_THAT(what, ContainsSubstring("without an orderly TPM shutdown"));
  CHECK(tpm::error_json(*failure)["lockout"]["secondsUntilUsable"] == 1000);

  // tpm2-tools, independently, see the same counter (the worker's connection goes with one more restart:
  // one swtpm serves one client). At the limit, a further non-orderly start counts nothing more.
  world.swtpm.kill();
  world.swtpm.restart();
  CHECK(getcap_variable(world.swtpm, "TPM2_PT_LOCKOUT_COUNTER") == 3);
  must(world.swtpm.tpm2({"tpm2_dictionarylockout", "--clear-lockout"}), "tpm2_dictionarylockout --clear-lockout");
  CHECK(getcap_variable(world.swtpm, "TPM2_PT_LOCKOUT_COUNTER") == 0);

  // The same worker signs again: nothing in edgeprov remembers the lockout.
  CHECK_NOTHROW(worker.sign(tpm::PersistedKey{}, to_bytes("after the lockout was cleared")));
  CHECK(worker.info().dictionary_attack == tpm::DictionaryAttackState{.counter = 0, .max_tries = 3,
                                                                        .interval_seconds = 1000,
                                                                        .recovery_seconds = 600,
                                                                        .in_lockout = false,
                                                                        .lockout_auth_set = false});
}

TEST_CASE("a locked-out key signs again by itself once the TPM has forgotten enough failures") {
  LockoutWorld world(2, 1000);
  tpm::Worker worker(options_for(world.swtpm));
  lose_power_after_signing(world.swtpm, worker, 2);
  CHECK_THROWS_AS(worker.sign(tpm::PersistedKey{}, to_bytes("locked")), tpm::Error);
  CHECK(worker.info().dictionary_attack.in_lockout);

  // Shorten the interval to one second (the counter stays: TPM2_DictionaryAttackParameters leaves it), then
  // wait on the TPM's own state, as the service would, not on a clock.
  world.swtpm.kill();
  world.swtpm.restart();
  must(world.swtpm.tpm2({"tpm2_dictionarylockout", "--setup-parameters", "--max-tries=2", "--recovery-time=1",
                         "--lockout-recovery-time=600"}),
       "tpm2_dictionarylockout --setup-parameters");
  CHECK(getcap_variable(world.swtpm, "TPM2_PT_LOCKOUT_COUNTER") == 2);
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  tpm::DictionaryAttackState state = worker.info().dictionary_attack;
  while (state.in_lockout && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);  // polling the TPM: its interval timer is the event
    state = worker.info().dictionary_attack;
  }
  CHECK_FALSE(state.in_lockout);
  CHECK(state.counter < 2);
  CHECK_NOTHROW(worker.sign(tpm::PersistedKey{}, to_bytes("recovered")));
}

TEST_CASE("the manufacturer's EK certificate in NV is read and matches the EK; a replaced EK does not") {
  test::Swtpm swtpm({.manufactured = true});
  test::TempDir dir;
  {
    tpm::Device device(options_for(swtpm));
    const auto keys = device.keys();
    const auto info = device.info();
    REQUIRE(info.ek_certificate);
    const auto j = tpm::info_json(keys, info, swtpm.tcti());
    CHECK(j["ekCertificate"]["present"] == true);
    CHECK(j["ekCertificate"]["nvIndex"] == "0x01c00002");
    CHECK(j["ekCertificate"]["matchesEndorsementKey"] == true);
  }
  // The same bytes tpm2_nvread reads.
  must(swtpm.tpm2({"tpm2_nvread", "0x01c00002", "-C", "o", "-o", (dir / "ekcert.der").string()}), "tpm2_nvread");
  {
    tpm::Device device(options_for(swtpm));
    CHECK(device.info().ek_certificate == to_bytes(test::read_file(dir / "ekcert.der")));
  }
  // Another primary key in the EK's place: the certificate no longer describes it.
  const auto f = [&](const char* name) { return (dir / name).string(); };
  must(swtpm.tpm2({"tpm2_evictcontrol", "-C", "o", "-c", "0x81010001"}), "tpm2_evictcontrol");
  must(swtpm.tpm2({"tpm2_createprimary", "-C", "e", "-G", "rsa2048", "-c", f("other.ctx")}), "tpm2_createprimary");
  must(swtpm.tpm2({"tpm2_evictcontrol", "-C", "o", "-c", f("other.ctx"), "0x81010001"}), "tpm2_evictcontrol");
  must(swtpm.tpm2({"tpm2_flushcontext", "-t"}), "tpm2_flushcontext");
  tpm::Device device(options_for(swtpm));
  const auto j = tpm::info_json(device.keys(), device.info(), swtpm.tcti());
  CHECK(j["ekCertificate"]["present"] == true);
  CHECK(j["ekCertificate"]["matchesEndorsementKey"] == false);
}

TEST_CASE("a TPM without an EK certificate says so") {
  test::Swtpm swtpm;
  tpm::Device device(options_for(swtpm));
  const auto j = tpm::info_json(device.keys(), device.info(), swtpm.tcti());
  CHECK(j["ekCertificate"] == nlohmann::json{{"nvIndex", "0x01c00002"}, {"present", false}});
}
