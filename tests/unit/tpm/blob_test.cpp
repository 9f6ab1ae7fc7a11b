#include <catch2/catch_test_macros.hpp>
#include <catch2/matchers/catch_matchers_string.hpp>

#include "common/encoding.h"
#include "tpm/blob.h"

using namespace edgeprov;
using Catch::Matchers::ContainsSubstring;

namespace {

Bytes tpm2b(std::size_t size, std::uint8_t fill) {
  Bytes out{static_cast<std::uint8_t>(size >> 8), static_cast<std::uint8_t>(size & 0xFF)};
  out.insert(out.end(), size, fill);
  return out;
}

// A KEYEDHASH HMAC-SHA-256 public area as in docs/dps-protocol.md §11 (48-byte TPMT_PUBLIC).
Bytes hmac_public() {
  Bytes out = *hex_decode("00300008000b0004004000000005000b0020");
  out.insert(out.end(), 32, 0xAB);
  return out;
}

struct Parts {
  Bytes credential = tpm2b(52, 0x11);   // TPM2B_DIGEST(HMAC) + encrypted TPM2B_DIGEST(16-byte key)
  Bytes secret = tpm2b(256, 0x22);
  Bytes duplicate = tpm2b(142, 0x33);
  Bytes seed = tpm2b(256, 0x44);
  Bytes public_area = hmac_public();
  Bytes join(bool trailing = true) const {
    Bytes out;
    for (const Bytes* p : {&credential, &secret, &duplicate, &seed, &public_area}) out.insert(out.end(), p->begin(), p->end());
    if (trailing) out.insert(out.end(), {0x00, 0x00});
    return out;
  }
  std::size_t offset(int part) const {
    const Bytes* all[] = {&credential, &secret, &duplicate, &seed, &public_area};
    std::size_t o = 0;
    for (int i = 0; i < part; ++i) o += all[i]->size();
    return o;
  }
};

tpm::Error parse_error(const Bytes& blob) {
  try {
    tpm::parse_auth_key_blob(blob);
  } catch (const tpm::Error& e) {
    return e;
  }
  FAIL("the blob parsed");
  throw;
}

}  // namespace

TEST_CASE("a well-formed blob splits into its five TPM2B parts, size prefixes kept") {
  const Parts p;
  const auto blob = tpm::parse_auth_key_blob(p.join());
  CHECK(blob.credential == p.credential);
  CHECK(blob.secret == p.secret);
  CHECK(blob.duplicate == p.duplicate);
  CHECK(blob.seed == p.seed);
  CHECK(blob.public_area == p.public_area);
  REQUIRE(blob.encrypted_data);
  CHECK(blob.encrypted_data->empty());
  CHECK(p.join().size() == 766);  // the size §11 gives for RSA-2048 EK/SRK and a 32-byte key
}

TEST_CASE("the trailing size is optional and trailing bytes beyond it are ignored") {
  const Parts p;
  CHECK_FALSE(tpm::parse_auth_key_blob(p.join(false)).encrypted_data);
  Bytes with_data = p.join(false);
  with_data.insert(with_data.end(), {0x00, 0x03, 0x01, 0x02, 0x03, 0xFF});
  CHECK(tpm::parse_auth_key_blob(with_data).encrypted_data == Bytes{0x01, 0x02, 0x03});
}

TEST_CASE("a blob that ends inside a part names that part") {
  const Parts p;
  const Bytes whole = p.join();
  const tpm::BlobPart parts[] = {tpm::BlobPart::credential, tpm::BlobPart::secret, tpm::BlobPart::duplicate,
                                 tpm::BlobPart::seed, tpm::BlobPart::public_area};
  for (int part = 0; part < 5; ++part) {
    for (std::size_t cut : {std::size_t{0}, std::size_t{1}, std::size_t{7}}) {
      const Bytes blob(whole.begin(), whole.begin() + static_cast<std::ptrdiff_t>(p.offset(part) + cut));
      const auto e = parse_error(blob);
      INFO(e.what());
      CHECK(e.kind() == tpm::ErrorKind::bad_blob);
      CHECK(e.blob_part() == parts[part]);
      CHECK_THAT(std::string(e.what()), ContainsSubstring("part " + std::to_string(part + 1)));
    }
  }
}

TEST_CASE("a part larger than its TPM type allows is rejected by name") {
  Parts p;
  p.credential = tpm2b(200, 0x11);  // TPM2B_ID_OBJECT holds at most sizeof(TPMS_ID_OBJECT)
  const auto e = parse_error(p.join());
  CHECK(e.blob_part() == tpm::BlobPart::credential);
  CHECK_THAT(std::string(e.what()), ContainsSubstring("credential"));
}

TEST_CASE("a public area whose inner sizes disagree with its TPM2B size is rejected") {
  Parts p;
  p.public_area[1] = 0x2F;          // claims 47 bytes; the TPMT_PUBLIC inside needs 48
  p.public_area.pop_back();
  CHECK(parse_error(p.join()).blob_part() == tpm::BlobPart::public_area);
  p.public_area = {0x00, 0x00};     // empty
  CHECK(parse_error(p.join()).blob_part() == tpm::BlobPart::public_area);
}
