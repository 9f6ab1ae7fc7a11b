#include <catch2/catch_test_macros.hpp>

#include "common/encoding.h"
#include "tpm/device.h"
#include "tpm/templates.h"

using namespace edgeprov;

// Expected bytes: the layouts of docs/dps-protocol.md §5.3 (TCG EK template L-1 and the SRK template).
TEST_CASE("the EK template marshals to the TCG L-1 layout with 256 zero bytes of unique") {
  const Bytes ek = tpm::marshal_public(tpm::endorsement_key_template());
  REQUIRE(ek.size() == 316);
  CHECK(hex_encode(ByteView(ek).first(60)) ==
        "013a0001000b000300b20020837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa"
        "00060080004300100800000000000100");
  CHECK(ByteView(ek).last(256).size() == 256);
  for (auto b : ByteView(ek).last(256)) CHECK(b == 0);
}

TEST_CASE("the SRK template is a noDA restricted decryption RSA-2048 key with AES-128-CFB") {
  const Bytes srk = tpm::marshal_public(tpm::storage_root_key_template());
  REQUIRE(srk.size() == 284);
  CHECK(hex_encode(ByteView(srk).first(28)) == "011a0001000b00030472000000060080004300100800000000000100");
}

TEST_CASE("the registration id is lowercase unpadded base32 of SHA-256 over the marshalled EK") {
  // The synthetic EK of docs/dps-protocol.md §5.4 (modulus byte i = (7i+1) mod 256); the expected value
  // was computed with `openssl dgst -sha256 -binary ek.bin | base32 | tr A-Z a-z | tr -d =`.
  Bytes ek = *hex_decode(
      "013a0001000b000300b20020837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa"
      "00060080004300100800000000000100");
  for (int i = 0; i < 256; ++i) ek.push_back(static_cast<std::uint8_t>((7 * i + 1) % 256));
  CHECK(tpm::registration_id_from_ek(ek) == "2qhly4toce4kgbetqhromb3ss4fnzyv7kuv3btq3gxfny7aozdna");
}

TEST_CASE("command codes are named as in the TPM specification") {
  CHECK(tpm::command_name(0x147) == "ActivateCredential");
  CHECK(tpm::command_name(0x156) == "Import");
  CHECK(tpm::command_name(0x1FFF) == "0x1fff");
}
