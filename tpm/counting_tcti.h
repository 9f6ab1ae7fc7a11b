// tpm/counting_tcti.h — a pass-through TCTI layer that counts the TPM commands ESAPI sends and records
// their command codes and round-trip times. tpm2-tss has no counter of its own (tcti-pcap writes capture files), and a
// measurement of "commands per import" needs an exact figure, so this thin forwarder sits between
// ESAPI and the real TCTI. It never changes or keeps command bytes beyond the 4-byte command code.
#pragma once
#include <tss2/tss2_tcti.h>

#include <chrono>
#include <cstdint>
#include <vector>

namespace edgeprov::tpm {

struct CountingTcti {
  TSS2_TCTI_CONTEXT_COMMON_V2 common;  // must stay first: ESAPI sees this struct as a TCTI context
  TSS2_TCTI_CONTEXT* inner = nullptr;  // the loaded TCTI; not owned
  std::uint64_t commands = 0;
  struct Record {
    std::uint32_t code;                // TPM_CC
    std::chrono::microseconds elapsed; // from transmit to the response
  };
  std::vector<Record> log;             // commands since the last clear (bounded)
  std::chrono::steady_clock::time_point sent_at;

  explicit CountingTcti(TSS2_TCTI_CONTEXT* wrapped);
  TSS2_TCTI_CONTEXT* context() { return reinterpret_cast<TSS2_TCTI_CONTEXT*>(this); }
};

}  // namespace edgeprov::tpm
