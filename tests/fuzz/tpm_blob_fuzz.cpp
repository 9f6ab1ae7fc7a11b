// The DPS authenticationKey blob (the TPM challenge and the hub key) as the device takes it apart before
// handing its parts to the TPM: tpm::parse_auth_key_blob either returns five TPM2B parts, each its own
// size prefix followed by exactly that many bytes, or throws tpm::Error of kind bad_blob.
#include <cstddef>
#include <cstdint>

#include "tpm/blob.h"
#include "tests/fuzz/fuzz_check.h"

using namespace edgeprov;

namespace {

void check_tpm2b(const Bytes& part) {
  FUZZ_CHECK(part.size() >= 2);
  FUZZ_CHECK(((static_cast<std::size_t>(part[0]) << 8) | part[1]) == part.size() - 2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const tpm::AuthKeyBlob blob = tpm::parse_auth_key_blob(ByteView(data, size));
    for (const Bytes* part : {&blob.credential, &blob.secret, &blob.duplicate, &blob.seed, &blob.public_area})
      check_tpm2b(*part);
    FUZZ_CHECK(blob.credential.size() + blob.secret.size() + blob.duplicate.size() + blob.seed.size() +
                   blob.public_area.size() + (blob.encrypted_data ? blob.encrypted_data->size() + 2 : 0) <=
               size);
  } catch (const tpm::Error& error) {
    FUZZ_CHECK(error.kind() == tpm::ErrorKind::bad_blob);
  }
  return 0;
}
