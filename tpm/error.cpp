#include "tpm/error.h"

#include <fmt/format.h>
#include <tss2/tss2_common.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tpm2_types.h>

#include <cctype>

namespace edgeprov::tpm {
namespace {

std::uint32_t layer(std::uint32_t rc) { return rc & TSS2_RC_LAYER_MASK; }
std::uint32_t base(std::uint32_t rc) { return rc & ~TSS2_RC_LAYER_MASK & 0xFFFF; }

// The kernel resource manager and tabrmd pass TPM codes through in their own layer.
bool is_tpm_layer(std::uint32_t rc) {
  return layer(rc) == TSS2_TPM_RC_LAYER || layer(rc) == TSS2_RESMGR_TPM_RC_LAYER;
}

std::string_view hierarchy_key(Hierarchy h) {
  return h == Hierarchy::owner ? "owner" : "endorsement";
}

std::string connection_fix(std::string_view tcti) {
  if (tcti.starts_with("swtpm") || tcti.starts_with("mssim"))
    return fmt::format("check that the simulator runs and listens at the host and port of [tpm] tcti = \"{}\"",
                       tcti);
  if (tcti.starts_with("tbs"))
    return "check that tpm.msc shows a ready TPM 2.0 and the TPM Base Services (TBS) service runs";
  return fmt::format("check that the TPM is present and enabled in the firmware and that [tpm] tcti = \"{}\" "
                     "names it",
                     tcti);
}

// Which part of a DPS blob a failing ActivateCredential/Import/Load points at (dps-protocol.md §11,
// "tampering one byte per part"). libtpms reports an RSA decryption failure as TPM_RC_FAILURE.
std::optional<BlobPart> blob_part_for(std::string_view command, std::uint32_t rc) {
  if (!is_tpm_layer(rc)) return std::nullopt;
  const auto param = rc_parameter(rc);
  const auto code = tpm_base_code(rc);
  if (command == "ActivateCredential") {
    if (param == 1u) return BlobPart::credential;
    if (param == 2u || code == TPM2_RC_FAILURE) return BlobPart::secret;
  } else if (command == "Import") {
    if (param == 1u) return BlobPart::credential;  // encryptionKey is what the credential held
    if (param == 2u) return BlobPart::public_area;
    if (param == 3u) return BlobPart::duplicate;
    if (param == 4u || code == TPM2_RC_FAILURE) return BlobPart::seed;
  } else if (command == "Load") {
    if (param == 2u) return BlobPart::public_area;
    if (param == 1u) return BlobPart::duplicate;
  }
  return std::nullopt;
}

std::string blob_problem(BlobPart part, std::uint32_t rc) {
  const bool integrity = tpm_base_code(rc) == TPM2_RC_INTEGRITY;
  switch (part) {
    case BlobPart::credential:
      return integrity ? "the credential (part 1 of the key blob) failed its integrity check: it was made "
                         "for another TPM's storage root key or it was altered"
                       : "the credential (part 1 of the key blob) was rejected";
    case BlobPart::secret:
      return "the secret (part 2 of the key blob) could not be decrypted with this TPM's endorsement key: "
             "it was made for another TPM's EK or it was altered";
    case BlobPart::duplicate:
      return integrity ? "the duplicate (part 3) or the public area (part 5) of the key blob failed the "
                         "integrity check: one of them was altered or they do not belong together"
                       : "the duplicate (part 3 of the key blob) was rejected";
    case BlobPart::seed:
      return "the seed (part 4 of the key blob) could not be decrypted with this TPM's storage root key: it "
             "was made for another TPM's SRK or it was altered";
    case BlobPart::public_area:
      return "the public area (part 5 of the key blob) was rejected";
  }
  return {};
}

}  // namespace

std::string_view to_string(BlobPart part) {
  switch (part) {
    case BlobPart::credential: return "credential (TPM2B_ID_OBJECT)";
    case BlobPart::secret: return "secret (TPM2B_ENCRYPTED_SECRET)";
    case BlobPart::duplicate: return "duplicate (TPM2B_PRIVATE)";
    case BlobPart::seed: return "seed (TPM2B_ENCRYPTED_SECRET)";
    case BlobPart::public_area: return "public (TPM2B_PUBLIC)";
  }
  return "?";
}

std::string_view to_string(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::connection: return "connection";
    case ErrorKind::device_missing: return "device_missing";
    case ErrorKind::permission_denied: return "permission_denied";
    case ErrorKind::lockout: return "lockout";
    case ErrorKind::auth_failed: return "auth_failed";
    case ErrorKind::hierarchy_auth: return "hierarchy_auth";
    case ErrorKind::handle_occupied: return "handle_occupied";
    case ErrorKind::bad_blob: return "bad_blob";
    case ErrorKind::no_auth_key: return "no_auth_key";
    case ErrorKind::transient_key_lost: return "transient_key_lost";
    case ErrorKind::no_space: return "no_space";
    case ErrorKind::tpm: return "tpm";
    case ErrorKind::busy: return "busy";
  }
  return "?";
}

namespace {
// TPM command names are CamelCase ("ActivateCredential"); anything else is a description of a step.
std::string headline(const std::string& command) {
  if (!command.empty() && std::isupper(static_cast<unsigned char>(command.front())))
    return fmt::format("TPM command {} failed", command);
  return fmt::format("could not {}", command);
}
}  // namespace

Error::Error(ErrorKind kind, std::string command, std::uint32_t rc, std::string problem, std::string fix,
             std::optional<BlobPart> part, std::optional<DictionaryAttackState> dictionary_attack)
    : std::runtime_error(headline(command) + ": " + problem + (fix.empty() ? "" : " — " + fix)),
      kind_(kind),
      command_(std::move(command)),
      rc_(rc),
      problem_(std::move(problem)),
      fix_(std::move(fix)),
      part_(part),
      dictionary_attack_(std::move(dictionary_attack)) {}

std::string decode(std::uint32_t rc) { return fmt::format("{} (0x{:x})", Tss2_RC_Decode(rc), rc); }

std::uint32_t tpm_base_code(std::uint32_t rc) {
  if (!is_tpm_layer(rc)) return rc;
  const std::uint32_t code = rc & 0xFFFF;
  return (code & TPM2_RC_FMT1) ? (code & (TPM2_RC_FMT1 | 0x3F)) : (code & 0xFFF);
}

std::optional<unsigned> rc_parameter(std::uint32_t rc) {
  if (!is_tpm_layer(rc) || !(rc & TPM2_RC_FMT1) || !(rc & TPM2_RC_P)) return std::nullopt;
  return (rc >> 8) & 0xF;
}

bool is_retryable(std::uint32_t rc) {
  if (!is_tpm_layer(rc)) return false;
  const auto code = tpm_base_code(rc);
  return code == TPM2_RC_RETRY || code == TPM2_RC_YIELDED || code == TPM2_RC_TESTING;
}

bool is_connection_failure(std::uint32_t rc) {
  if (layer(rc) == TSS2_TCTI_RC_LAYER) return true;
  if (layer(rc) == TSS2_ESAPI_RC_LAYER) {
    const auto b = base(rc);
    return b == TSS2_BASE_RC_IO_ERROR || b == TSS2_BASE_RC_NO_CONNECTION || b == TSS2_BASE_RC_BAD_SEQUENCE ||
           b == TSS2_BASE_RC_MALFORMED_RESPONSE || b == TSS2_BASE_RC_INSUFFICIENT_RESPONSE ||
           b == TSS2_BASE_RC_TRY_AGAIN;
  }
  return false;
}

bool is_missing_handle(std::uint32_t rc) {
  return is_tpm_layer(rc) && (rc & TPM2_RC_FMT1) && !(rc & TPM2_RC_P) && tpm_base_code(rc) == TPM2_RC_HANDLE;
}

bool is_unloaded_reference(std::uint32_t rc) {
  if (!is_tpm_layer(rc) || (rc & TPM2_RC_FMT1)) return false;
  const auto code = tpm_base_code(rc);
  return code >= TPM2_RC_REFERENCE_H0 && code <= TPM2_RC_REFERENCE_H6;
}

Error make_error(const CallSite& site, std::uint32_t rc) {
  const std::string command(site.command);
  const std::string config_file(site.config_file);
  std::string problem = decode(rc);

  if (is_connection_failure(rc)) {
    return Error(ErrorKind::connection, command, rc,
                 fmt::format("lost the connection to the TPM ({})", problem), connection_fix(site.tcti));
  }
  const auto code = tpm_base_code(rc);
  if (is_tpm_layer(rc)) {
    // The device layer reads the TPM's DA state and tells these two with it (with_dictionary_attack_state);
    // these words stand when the state cannot be read.
    if (code == TPM2_RC_LOCKOUT) {
      return Error(ErrorKind::lockout, command, rc,
                   "the TPM is in dictionary-attack lockout: it refuses keys protected against dictionary attacks, "
                   "the DPS key included; " + problem,
                   "wait: the TPM forgets one failure per lockout interval it is powered on (`tpm2_getcap "
                   "properties-variable` shows TPM2_PT_LOCKOUT_COUNTER and _INTERVAL), and edgeprov signs again by "
                   "itself; or clear it now with `tpm2_dictionarylockout --clear-lockout` (with -p and the lockout "
                   "password if one is set). Each reset or power loss without an orderly TPM shutdown after the "
                   "key was used counts as a failed authorization");
    }
    if ((code == TPM2_RC_AUTH_FAIL || code == TPM2_RC_BAD_AUTH) && site.hierarchy == Hierarchy::none) {
      return Error(ErrorKind::auth_failed, command, rc,
                   "the object refused the authorization edgeprov gave it (an empty password)" +
                       std::string(code == TPM2_RC_AUTH_FAIL ? ", and the TPM counted a failed authorization "
                                                               "toward dictionary-attack lockout; "
                                                             : "; ") +
                       problem,
                   "another program may have replaced the key: provision again (`sudo edgeprovctl reprovision`) "
                   "so DPS issues a new key");
    }
    if ((code == TPM2_RC_AUTH_FAIL || code == TPM2_RC_BAD_AUTH) && site.hierarchy != Hierarchy::none) {
      const auto key = hierarchy_key(site.hierarchy);
      return Error(ErrorKind::hierarchy_auth, command, rc, problem,
                   fmt::format("the {0} hierarchy has a password and the configured one is missing or wrong; "
                               "set [tpm.hierarchy_authorization] {0} in {1}",
                               key, config_file));
    }
    if (code == TPM2_RC_HIERARCHY) {
      return Error(ErrorKind::tpm, command, rc, problem,
                   fmt::format("the {} hierarchy is disabled; enable it in the firmware's TPM settings",
                               site.hierarchy == Hierarchy::owner ? "storage (owner)" : "endorsement"));
    }
    if (code == TPM2_RC_NV_SPACE || code == TPM2_RC_OBJECT_MEMORY || code == TPM2_RC_SESSION_MEMORY ||
        code == TPM2_RC_OBJECT_HANDLES || code == TPM2_RC_SESSION_HANDLES) {
      return Error(ErrorKind::no_space, command, rc, problem,
                   "the TPM has no room left; list persistent objects with `tpm2_getcap handles-persistent` "
                   "and remove unused ones with `tpm2_evictcontrol -C o -c HANDLE`, and flush leftover "
                   "transient objects and sessions with `tpm2_flushcontext -t -l -s`");
    }
    if (code == TPM2_RC_NV_DEFINED) {
      return Error(ErrorKind::handle_occupied, command, rc, problem,
                   "another object already sits at that persistent handle; see `tpm2_getcap "
                   "handles-persistent` and remove it with `tpm2_evictcontrol -C o -c HANDLE` if it is not in "
                   "use");
    }
    if (site.auth_key_blob) {
      if (const auto part = blob_part_for(site.command, rc)) {
        return Error(ErrorKind::bad_blob, command, rc, fmt::format("{}; {}", blob_problem(*part, rc), problem),
                     "check that the DPS enrollment holds this device's endorsement key (`edgeprovctl tpm "
                     "info`), then provision again to get a new key",
                     part);
      }
    }
  }
  return Error(ErrorKind::tpm, command, rc, problem, "");
}

bool passes_by_waiting(ErrorKind kind) {
  return kind == ErrorKind::connection || kind == ErrorKind::lockout || kind == ErrorKind::busy ||
         kind == ErrorKind::transient_key_lost;
}

nlohmann::json error_json(const Error& error) {
  nlohmann::json data = {{"kind", std::string(to_string(error.kind()))},
                         {"command", error.command()},
                         {"rc", fmt::format("0x{:x}", error.rc())},
                         {"problem", error.problem()},
                         {"fix", error.fix()}};
  if (error.blob_part()) data["blobPart"] = std::string(to_string(*error.blob_part()));
  if (error.dictionary_attack()) data["lockout"] = lockout_json(*error.dictionary_attack());
  return data;
}

}  // namespace edgeprov::tpm
