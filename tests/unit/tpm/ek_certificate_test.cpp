#include <catch2/catch_test_macros.hpp>

#include "common/encoding.h"
#include "tpm/ek_certificate.h"
#include "tpm/templates.h"

using namespace edgeprov;

namespace {

// Made with: openssl req -x509 -newkey rsa:2048 -nodes -subj "/CN=test EK certificate/O=edgeprov tests"
//            -days 3650 -outform der; the modulus is `openssl x509 -inform der -noout -modulus`.
const char* const certificate_base64 =
    "MIIDTzCCAjegAwIBAgIUKzBP6Hhj1XEVj+YuP1tlnmeOue0wDQYJKoZIhvcNAQELBQAwNzEcMBoGA1UEAwwTdGVzdCBFSyBjZXJ0aWZpY2F0ZTEXMBUGA1UECgwOZWRnZXByb3YgdGVzdHMwHhcNMjYxMjA0MDM1MDIzWhcNMzYxMjAxMDM1MDIzWjA3MRwwGgYDVQQDDBN0ZXN0IEVLIGNlcnRpZmljYXRlMRcwFQYDVQQKDA5lZGdlcHJvdiB0ZXN0czCCASIwDQYJKoZIhvcNAQEBBQADggEPADCCAQoCggEBAMPZNRk8r1R8e5s6D4Ps6aOrkIPyexBeBIQcmyax3da3PjrnFpIEH+Bnw32f1mnoDpz5+my5MRNOdUI+tx7CSiuayTcEHsHt6zpvfm7HnL/anX+mkwDSTfLAJTdj94J/L3xwSIYB09oqipWcXJDGgiOrL10h9NKLGBnrjPR81BCYJNzNL2IqkE/Ad7bV6gLviZX/WZ5pWP5POZLHqk+xttCByQXUh9bO2vUrdO0zO2neQA6C/gUkDwxDNwPVRE7BDSRqaq/xoh3MupmRsy6FVbm/RQcebJjCSYKxYse0TyqZV/JhM5r9KOfNCHESEUI9YbXTXJpDTiHKUbdsdKuvAD0CAwEAAaNTMFEwHQYDVR0OBBYEFKYb2F5P8cHfMe0ihgfIl2pxS264MB8GA1UdIwQYMBaAFKYb2F5P8cHfMe0ihgfIl2pxS264MA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBAEQdxD0qW0NPivAsChfBRyQEXsOkIwT+dp3L77OVoUZJevFn8yJYXkKwH7+nS8wO1VBUZZ0692JDVRWvfi5mJrabDD0ZLrhtBsriJOFHLuVF0T78SDtk3y5rUxngyRQou3Gvw2xT8eMEpdJW4nc7ja1vPFNMiwhJb2fbgZw0+CLUCpH4+mO8bScOB8hjBrArRQxZMVtSnaMCyBKgqEs7sRnCY9H61BpThi0FhyMfn+jLHGiKdv8hNXOguhGa99KVBxDA9xVM2S+j0rDFJMA5J5WhDp4jQAG6Cyy/+e4F7VwIFczE2oYiTnEJ7WqW3vBwUJ7smI+BJRs6Do48fXuQndQ=";
const char* const modulus_hex =
    "C3D935193CAF547C7B9B3A0F83ECE9A3AB9083F27B105E04841C9B26B1DDD6B73E3AE71692041FE067C37D9FD669E80E9CF9FA6CB931134E75423EB71EC24A2B9AC937041EC1EDEB3A6F7E6EC79CBFDA9D7FA69300D24DF2C0253763F7827F2F7C70488601D3DA2A8A959C5C90C68223AB2F5D21F4D28B1819EB8CF47CD4109824DCCD2F622A904FC077B6D5EA02EF8995FF599E6958FE4F3992C7AA4FB1B6D081C905D487D6CEDAF52B74ED333B69DE400E82FE05240F0C433703D5444EC10D246A6AAFF1A21DCCBA9991B32E8555B9BF45071E6C98C24982B162C7B44F2A9957F261339AFD28E7CD08711211423D61B5D35C9A434E21CA51B76C74ABAF003D";

// The EK public area of the TCG template with this modulus, marshalled as the TPM returns it.
Bytes endorsement_key_with(const Bytes& modulus) {
  TPM2B_PUBLIC ek = tpm::endorsement_key_template();
  ek.publicArea.unique.rsa.size = static_cast<UINT16>(modulus.size());
  std::copy(modulus.begin(), modulus.end(), ek.publicArea.unique.rsa.buffer);
  return tpm::marshal_public(ek);
}

}  // namespace

TEST_CASE("an EK certificate whose RSA key is the EK's matches, and one byte off does not") {
  const auto der = base64_decode(certificate_base64);
  REQUIRE(der);
  auto modulus = hex_decode(modulus_hex);
  REQUIRE(modulus);
  const auto facts = tpm::examine_ek_certificate(*der, endorsement_key_with(*modulus));
  CHECK(facts.parsed);
  CHECK(facts.issuer == "O=edgeprov tests,CN=test EK certificate");
  CHECK(facts.not_after == "2036-12-01T03:50:23Z");  // openssl x509 -noout -enddate
  CHECK(facts.matches_endorsement_key == true);
  CHECK(facts.problem.empty());

  (*modulus)[100] ^= 0x01;
  CHECK(tpm::examine_ek_certificate(*der, endorsement_key_with(*modulus)).matches_endorsement_key == false);
}

TEST_CASE("bytes that are not a certificate are reported, not compared") {
  const Bytes junk = {0x30, 0x03, 0x02, 0x01, 0x00};
  const auto facts = tpm::examine_ek_certificate(junk, endorsement_key_with(Bytes(256, 0xAB)));
  CHECK_FALSE(facts.parsed);
  CHECK_FALSE(facts.matches_endorsement_key.has_value());
  CHECK(facts.problem == "the NV index does not hold a DER X.509 certificate");
}
