/* tpm2-tss includes <Tbs.h> (MSVC's capitals) and uses the TPM Base Services API of Windows 8 and later.
 * mingw-w64 10 ships <tbs.h> in lower case with only the Windows Vista part of that API, although its
 * libtbs.a already exports the later functions. This adds the declarations tcti-tbs.c uses, as the
 * Windows SDK documents them (tbs.h: TBS_CONTEXT_PARAMS2, TPM_DEVICE_INFO, Tbsi_GetDeviceInfo), and
 * steps aside when the mingw-w64 header has them. */
#pragma once
#include <windows.h>
#include <tbs.h>

#ifndef TBS_CONTEXT_VERSION_TWO
#define TBS_CONTEXT_VERSION_ONE 1
#define TBS_CONTEXT_VERSION_TWO 2
#ifndef TBS_SUCCESS
#define TBS_SUCCESS 0
#endif
#define TPM_VERSION_UNKNOWN 0
#define TPM_VERSION_12 1
#define TPM_VERSION_20 2

#ifdef __cplusplus
extern "C" {
#endif

typedef const TBS_CONTEXT_PARAMS *PCTBS_CONTEXT_PARAMS;

typedef struct tdTBS_CONTEXT_PARAMS2 {
  UINT32 version;
  union {
    struct {
      UINT32 requestRaw : 1;
      UINT32 includeTpm12 : 1;
      UINT32 includeTpm20 : 1;
    };
    UINT32 asUINT32;
  };
} TBS_CONTEXT_PARAMS2, *PTBS_CONTEXT_PARAMS2;

typedef struct _TPM_DEVICE_INFO {
  UINT32 structVersion;
  UINT32 tpmVersion;
  UINT32 tpmInterfaceType;
  UINT32 tpmImpRevision;
} TPM_DEVICE_INFO, *PTPM_DEVICE_INFO;

TBS_RESULT WINAPI Tbsi_GetDeviceInfo(UINT32 Size, PVOID Info);

#ifdef __cplusplus
}
#endif
#endif /* TBS_CONTEXT_VERSION_TWO */
