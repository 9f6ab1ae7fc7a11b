// tss_probe.exe TCTI — opens the TPM named by TCTI through Tss2_TctiLdr_Initialize (as edgeprov's
// [tpm] tcti does) and prints the TPM's manufacturer and firmware version, one "key value" per line,
// for tests/windows/scenarios/tpm-swtpm.sh to compare with tpm2_getcap on the same TPM from Linux.
// Exit codes: 0 ok, 1 usage, 2 the TCTI did not open, 3 ESAPI did not start, 4 the command failed.
#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include <fmt/format.h>

#include <cstdio>

namespace {
int fail(int code, const char* what, TSS2_RC rc) {
  fmt::print(stderr, "tss_probe: {} failed: {}\n", what, Tss2_RC_Decode(rc));
  return code;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    fmt::print(stderr, "usage: tss_probe TCTI   e.g. swtpm:host=127.0.0.1,port=2321\n");
    return 1;
  }
  TSS2_TCTI_CONTEXT* tcti = nullptr;
  if (TSS2_RC rc = Tss2_TctiLdr_Initialize(argv[1], &tcti); rc != TSS2_RC_SUCCESS)
    return fail(2, "Tss2_TctiLdr_Initialize", rc);
  ESYS_CONTEXT* esys = nullptr;
  if (TSS2_RC rc = Esys_Initialize(&esys, tcti, nullptr); rc != TSS2_RC_SUCCESS) {
    Tss2_TctiLdr_Finalize(&tcti);
    return fail(3, "Esys_Initialize", rc);
  }
  TPMS_CAPABILITY_DATA* cap = nullptr;
  TSS2_RC rc = Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES,
                                  TPM2_PT_MANUFACTURER, 8, nullptr, &cap);
  int code = 0;
  if (rc != TSS2_RC_SUCCESS) {
    code = fail(4, "Esys_GetCapability(TPM_PROPERTIES)", rc);
  } else {
    for (UINT32 i = 0; i < cap->data.tpmProperties.count; ++i) {
      const auto& p = cap->data.tpmProperties.tpmProperty[i];
      if (p.property == TPM2_PT_MANUFACTURER) fmt::print("manufacturer 0x{:08x}\n", p.value);
      if (p.property == TPM2_PT_FIRMWARE_VERSION_1) fmt::print("firmware1 0x{:08x}\n", p.value);
      if (p.property == TPM2_PT_FIRMWARE_VERSION_2) fmt::print("firmware2 0x{:08x}\n", p.value);
    }
    Esys_Free(cap);
  }
  Esys_Finalize(&esys);
  Tss2_TctiLdr_Finalize(&tcti);
  return code;
}
