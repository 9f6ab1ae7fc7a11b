#include "tpm/blob.h"

#include <fmt/format.h>
#include <tss2/tss2_mu.h>

namespace edgeprov::tpm {
namespace {

const char* const blob_fix =
    "the key blob from DPS was damaged or is not a TPM authentication key; provision again to get a new one";

[[noreturn]] void malformed(BlobPart part, int index, const std::string& what) {
  throw Error(ErrorKind::bad_blob, "read the authentication key blob", 0,
              fmt::format("part {}, the {}, {}", index, to_string(part), what), blob_fix, part);
}

// Reads one TPM2B item and checks it unmarshals as its TPM type (which enforces the type's size limit).
template <typename T, TSS2_RC (*Unmarshal)(const uint8_t*, size_t, size_t*, T*)>
Bytes read_part(ByteView blob, std::size_t& offset, BlobPart part, int index) {
  const std::size_t left = blob.size() - offset;
  if (left < 2) malformed(part, index, fmt::format("is missing: the blob ends after {} bytes", blob.size()));
  const std::size_t size = (std::size_t{blob[offset]} << 8) | blob[offset + 1];
  if (left - 2 < size)
    malformed(part, index,
              fmt::format("declares {} bytes but only {} remain: the blob is truncated", size, left - 2));
  T value{};
  std::size_t end = offset;
  if (const TSS2_RC rc = Unmarshal(blob.data(), blob.size(), &end, &value); rc != TSS2_RC_SUCCESS)
    malformed(part, index, fmt::format("is not a well-formed structure of its type ({})", decode(rc)));
  if (end != offset + 2 + size)
    malformed(part, index, fmt::format("has inner sizes that disagree with its size of {} bytes", size));
  Bytes out(blob.begin() + static_cast<std::ptrdiff_t>(offset), blob.begin() + static_cast<std::ptrdiff_t>(end));
  offset = end;
  return out;
}

}  // namespace

AuthKeyBlob parse_auth_key_blob(ByteView blob) {
  AuthKeyBlob out;
  std::size_t offset = 0;
  out.credential = read_part<TPM2B_ID_OBJECT, Tss2_MU_TPM2B_ID_OBJECT_Unmarshal>(blob, offset, BlobPart::credential, 1);
  out.secret = read_part<TPM2B_ENCRYPTED_SECRET, Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal>(blob, offset, BlobPart::secret, 2);
  out.duplicate = read_part<TPM2B_PRIVATE, Tss2_MU_TPM2B_PRIVATE_Unmarshal>(blob, offset, BlobPart::duplicate, 3);
  out.seed = read_part<TPM2B_ENCRYPTED_SECRET, Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal>(blob, offset, BlobPart::seed, 4);
  out.public_area = read_part<TPM2B_PUBLIC, Tss2_MU_TPM2B_PUBLIC_Unmarshal>(blob, offset, BlobPart::public_area, 5);
  // An empty TPM2B_PUBLIC unmarshals fine but cannot be imported.
  if (out.public_area.size() <= 2) malformed(BlobPart::public_area, 5, "is empty");

  // The C SDK reads a trailing u16 size (the unused "encrypted data"); aziot ignores what follows.
  // Both tolerate its absence, so only a complete trailing item is kept.
  if (blob.size() - offset >= 2) {
    const std::size_t n = (std::size_t{blob[offset]} << 8) | blob[offset + 1];
    if (blob.size() - offset - 2 >= n)
      out.encrypted_data = Bytes(blob.begin() + static_cast<std::ptrdiff_t>(offset + 2),
                                 blob.begin() + static_cast<std::ptrdiff_t>(offset + 2 + n));
  }
  return out;
}

}  // namespace edgeprov::tpm
