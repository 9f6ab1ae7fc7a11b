// The DPS vocabulary: the names edgeprov reads and writes, and the rules for registration ids, ID scopes
// and attestation over transports that the configuration and the DPS client share.
#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include <string>

#include "dps/vocabulary.h"

using namespace edgeprov::dps;
using Catch::Matchers::ContainsSubstring;

TEST_CASE("attestation methods and transports read back from the names aziot's config.toml uses") {
  for (auto m : {AttestationMethod::tpm, AttestationMethod::symmetric_key, AttestationMethod::x509})
    CHECK(parse_attestation_method(to_string(m)) == m);
  CHECK(to_string(AttestationMethod::symmetric_key) == "symmetric_key");
  CHECK_FALSE(parse_attestation_method("symmetric-key"));
  CHECK_FALSE(parse_attestation_method("TPM"));
  CHECK(parse_transport("mqtt") == Transport::mqtt);
  CHECK(parse_transport("https") == Transport::https);
  CHECK_FALSE(parse_transport("amqp"));
}

TEST_CASE("registration ids of letters, digits and - . _ : up to 128 characters are accepted") {
  CHECK_FALSE(check_registration_id("device-001"));
  CHECK_FALSE(check_registration_id("2qhly4toce4kgbetqhromb3ss4fnzyv7kuv3btq3gxfny7aozdna"));
  CHECK_FALSE(check_registration_id("Edge_01.site:a"));
  CHECK_FALSE(check_registration_id(std::string(128, 'a')));
}

TEST_CASE("a registration id DPS would refuse is reported with what to change, escaped") {
  REQUIRE(check_registration_id(""));
  CHECK(check_registration_id("")->problem == "the registration id is empty");
  const auto space = check_registration_id("my device");
  REQUIRE(space);
  CHECK(space->problem == "\"my%20device\" is not a DPS registration id: it contains %20");
  CHECK_THAT(space->fix, ContainsSubstring("letters, digits, '-', '.', '_' or ':'"));
  CHECK_THAT(check_registration_id("a/b")->problem, ContainsSubstring("contains %2f"));
  CHECK_THAT(check_registration_id("a\nb")->problem, ContainsSubstring("contains %0a"));
  CHECK_THAT(check_registration_id(std::string(129, 'a'))->problem,
             ContainsSubstring("is 129 characters long; DPS accepts at most 128"));
}

TEST_CASE("an ID scope is letters and digits") {
  CHECK_FALSE(check_id_scope("0ne00000001"));
  REQUIRE(check_id_scope("0ne-0000"));
  CHECK_THAT(check_id_scope("0ne-0000")->problem, ContainsSubstring("is not an ID Scope"));
  CHECK_THAT(check_id_scope("0ne-0000")->fix, ContainsSubstring("Overview page"));
  CHECK(check_id_scope(""));
}

TEST_CASE("TPM attestation goes over HTTPS only; symmetric key and X.509 over both") {
  CHECK_FALSE(check_transport(AttestationMethod::tpm, Transport::https));
  REQUIRE(check_transport(AttestationMethod::tpm, Transport::mqtt));
  CHECK_THAT(check_transport(AttestationMethod::tpm, Transport::mqtt)->problem, ContainsSubstring("HTTPS only"));
  CHECK_FALSE(check_transport(AttestationMethod::symmetric_key, Transport::mqtt));
  CHECK_FALSE(check_transport(AttestationMethod::x509, Transport::mqtt));
}
