#include "tpm/counting_tcti.h"

#include <type_traits>

namespace edgeprov::tpm {
namespace {

static_assert(std::is_standard_layout_v<CountingTcti>);
constexpr std::size_t max_log = 4096;

CountingTcti* self(TSS2_TCTI_CONTEXT* context) { return reinterpret_cast<CountingTcti*>(context); }

TSS2_RC transmit(TSS2_TCTI_CONTEXT* context, size_t size, const uint8_t* command) {
  auto* s = self(context);
  ++s->commands;
  // TPM command header: tag (2) ‖ commandSize (4) ‖ commandCode (4), big-endian.
  if (size >= 10 && s->log.size() < max_log) {
    const std::uint32_t code = (std::uint32_t{command[6]} << 24) | (std::uint32_t{command[7]} << 16) |
                               (std::uint32_t{command[8]} << 8) | command[9];
    s->log.push_back({code, std::chrono::microseconds(0)});
  }
  s->sent_at = std::chrono::steady_clock::now();
  return Tss2_Tcti_Transmit(s->inner, size, command);
}

TSS2_RC receive(TSS2_TCTI_CONTEXT* context, size_t* size, uint8_t* response, int32_t timeout) {
  auto* s = self(context);
  const TSS2_RC rc = Tss2_Tcti_Receive(s->inner, size, response, timeout);
  // ESAPI asks for the size first (response == NULL), then for the bytes.
  if (rc == TSS2_RC_SUCCESS && response != nullptr && !s->log.empty())
    s->log.back().elapsed =
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - s->sent_at);
  return rc;
}

void finalize(TSS2_TCTI_CONTEXT*) {}  // the owner finalizes the wrapped TCTI through the loader

TSS2_RC cancel(TSS2_TCTI_CONTEXT* context) { return Tss2_Tcti_Cancel(self(context)->inner); }

TSS2_RC get_poll_handles(TSS2_TCTI_CONTEXT* context, TSS2_TCTI_POLL_HANDLE* handles, size_t* count) {
  return Tss2_Tcti_GetPollHandles(self(context)->inner, handles, count);
}

TSS2_RC set_locality(TSS2_TCTI_CONTEXT* context, uint8_t locality) {
  return Tss2_Tcti_SetLocality(self(context)->inner, locality);
}

TSS2_RC make_sticky(TSS2_TCTI_CONTEXT* context, TPM2_HANDLE* handle, uint8_t sticky) {
  return Tss2_Tcti_MakeSticky(self(context)->inner, handle, sticky);
}

}  // namespace

CountingTcti::CountingTcti(TSS2_TCTI_CONTEXT* wrapped) : common{}, inner(wrapped) {
  common.v1.magic = 0x6564676570726f76ULL;  // "edgeprov"
  common.v1.version = 2;
  common.v1.transmit = transmit;
  common.v1.receive = receive;
  common.v1.finalize = finalize;
  common.v1.cancel = cancel;
  common.v1.getPollHandles = get_poll_handles;
  common.v1.setLocality = set_locality;
  common.makeSticky = make_sticky;
}

}  // namespace edgeprov::tpm
