#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <vector>

#include "tpm/error.h"

using namespace edgeprov;
using Catch::Matchers::ContainsSubstring;

namespace {
tpm::CallSite site(std::string_view command, tpm::Hierarchy h = tpm::Hierarchy::none, bool blob = false) {
  return {.command = command, .hierarchy = h, .tcti = "swtpm:host=127.0.0.1,port=2321",
          .config_file = "/etc/edgeprov/config.toml", .auth_key_blob = blob};
}
std::string what(const tpm::Error& e) { return e.what(); }
}  // namespace

TEST_CASE("a bad endorsement password names [tpm.hierarchy_authorization] endorsement and the config file") {
  const auto e = tpm::make_error(site("PolicySecret", tpm::Hierarchy::endorsement), 0x9a2);
  CHECK(e.kind() == tpm::ErrorKind::hierarchy_auth);
  CHECK(e.command() == "PolicySecret");
  CHECK(e.rc() == 0x9a2);
  CHECK_THAT(what(e), ContainsSubstring("TPM command PolicySecret failed"));
  CHECK_THAT(what(e), ContainsSubstring("0x9a2"));
  CHECK_THAT(what(e), ContainsSubstring("set [tpm.hierarchy_authorization] endorsement in /etc/edgeprov/config.toml"));
}

TEST_CASE("an owner auth failure names the owner key") {
  const auto e = tpm::make_error(site("EvictControl", tpm::Hierarchy::owner), 0x98e);
  CHECK(e.kind() == tpm::ErrorKind::hierarchy_auth);
  CHECK_THAT(what(e), ContainsSubstring("[tpm.hierarchy_authorization] owner"));
}

TEST_CASE("dictionary-attack lockout says how to get out of it") {
  const auto e = tpm::make_error(site("HMAC"), 0x921);
  CHECK(e.kind() == tpm::ErrorKind::lockout);
  CHECK_THAT(what(e), ContainsSubstring("tpm2_dictionarylockout --clear-lockout"));
}

TEST_CASE("TPM_RC_RETRY, YIELDED and TESTING are retried, nothing else") {
  CHECK(tpm::is_retryable(0x922));
  CHECK(tpm::is_retryable(0x908));
  CHECK(tpm::is_retryable(0x90a));
  CHECK_FALSE(tpm::is_retryable(0x9a2));
  CHECK_FALSE(tpm::is_retryable(0xa000a));
}

TEST_CASE("a TCTI I/O error is a connection failure that names the TCTI") {
  const auto e = tpm::make_error(site("ReadPublic"), 0xa000a);  // TSS2_TCTI_RC_IO_ERROR
  CHECK(e.kind() == tpm::ErrorKind::connection);
  CHECK(tpm::is_connection_failure(0xa000a));
  CHECK_THAT(what(e), ContainsSubstring("swtpm:host=127.0.0.1,port=2321"));
  CHECK_FALSE(tpm::is_connection_failure(0x9a2));
}

TEST_CASE("TPM_RC_HANDLE on the first handle means nothing is persisted there") {
  CHECK(tpm::is_missing_handle(0x18b));
  CHECK_FALSE(tpm::is_missing_handle(0x1df));
  CHECK_FALSE(tpm::is_missing_handle(0xa000a));
}

TEST_CASE("TPM_RC_REFERENCE_H0 to H6 mean a transient object named in the command is no longer loaded") {
  // What swtpm answers after a power cycle: 0x910 for the first handle, 0x911 for the second.
  CHECK(tpm::is_unloaded_reference(0x910));
  CHECK(tpm::is_unloaded_reference(0x911));
  CHECK(tpm::is_unloaded_reference(0x916));
  CHECK_FALSE(tpm::is_unloaded_reference(0x917));
  CHECK_FALSE(tpm::is_unloaded_reference(0x902));  // out of object memory
  CHECK_FALSE(tpm::is_unloaded_reference(0x18b));
  CHECK_FALSE(tpm::is_unloaded_reference(0x70910));  // another layer's code
}

TEST_CASE("format-one codes give their parameter number") {
  CHECK(tpm::rc_parameter(0x3df) == 3u);
  CHECK(tpm::rc_parameter(0x1df) == 1u);
  CHECK_FALSE(tpm::rc_parameter(0x98e));  // a session, not a parameter
  CHECK(tpm::tpm_base_code(0x3df) == 0x9f);
}

TEST_CASE("TPM failures on a DPS blob name the part the tamper table of §11 points at") {
  using tpm::BlobPart;
  CHECK(tpm::make_error(site("ActivateCredential", {}, true), 0x1df).blob_part() == BlobPart::credential);
  CHECK(tpm::make_error(site("ActivateCredential", {}, true), 0x101).blob_part() == BlobPart::secret);
  CHECK(tpm::make_error(site("ActivateCredential", {}, true), 0x2d5).blob_part() == BlobPart::secret);
  CHECK(tpm::make_error(site("Import", {}, true), 0x3df).blob_part() == BlobPart::duplicate);
  CHECK(tpm::make_error(site("Import", {}, true), 0x101).blob_part() == BlobPart::seed);
  CHECK(tpm::make_error(site("Import", {}, true), 0x2c4).blob_part() == BlobPart::public_area);
  const auto e = tpm::make_error(site("Import", {}, true), 0x3df);
  CHECK(e.kind() == tpm::ErrorKind::bad_blob);
  CHECK_THAT(what(e), ContainsSubstring("duplicate (part 3)"));
  CHECK_THAT(what(e), ContainsSubstring("public area (part 5)"));
  // The same code outside an import is not blamed on a blob.
  CHECK_FALSE(tpm::make_error(site("Import"), 0x3df).blob_part());
}

TEST_CASE("a taken persistent handle and a full TPM say what to clean up") {
  const auto taken = tpm::make_error(site("EvictControl", tpm::Hierarchy::owner), 0x14c);
  CHECK(taken.kind() == tpm::ErrorKind::handle_occupied);
  CHECK_THAT(what(taken), ContainsSubstring("tpm2_getcap handles-persistent"));
  const auto full = tpm::make_error(site("EvictControl", tpm::Hierarchy::owner), 0x14b);  // TPM_RC_NV_SPACE
  CHECK(full.kind() == tpm::ErrorKind::no_space);
}

TEST_CASE("a busy TPM is asked again a bounded number of times, with a pause between tries") {
  int calls = 0;
  std::vector<int> pauses;
  const auto pause = [&](int attempt) { pauses.push_back(attempt); };

  // TPM_RC_RETRY twice, then success.
  CHECK(tpm::with_retries([&] { return ++calls < 3 ? 0x922u : 0u; }, pause) == 0u);
  CHECK(calls == 3);
  CHECK(pauses == std::vector<int>{1, 2});

  // Always TPM_RC_YIELDED: gives up after max_tpm_attempts and returns the code.
  calls = 0;
  pauses.clear();
  CHECK(tpm::with_retries([&] { ++calls; return 0x908u; }, pause) == 0x908u);
  CHECK(calls == tpm::max_tpm_attempts);
  CHECK(pauses.size() == static_cast<std::size_t>(tpm::max_tpm_attempts - 1));

  // An auth failure is not retried.
  calls = 0;
  CHECK(tpm::with_retries([&] { ++calls; return 0x9a2u; }, pause) == 0x9a2u);
  CHECK(calls == 1);
}
