// tpm/error.h — what went wrong with the TPM, kept whole: the TSS2 return code, its decoded text
// (Tss2_RC_Decode), the command that failed, and what the user can do about it. Never holds a secret.
#pragma once
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "tpm/dictionary_attack.h"

namespace edgeprov::tpm {

enum class ErrorKind {
  connection,         // the TCTI could not reach the TPM (simulator down, device gone, TBS error)
  device_missing,     // the device node named by the TCTI does not exist
  permission_denied,  // the device node exists but this user may not open it
  lockout,            // the TPM is in dictionary-attack lockout: DA-protected keys (the DPS key) are refused
  auth_failed,        // an object (not a hierarchy) refused its authorization; the TPM may count it toward lockout
  hierarchy_auth,     // the endorsement or owner hierarchy password is missing or wrong
  handle_occupied,    // a persistent handle edgeprov uses holds an object it did not expect
  bad_blob,           // an authentication-key blob from DPS is malformed or does not fit this TPM
  no_auth_key,        // signing with the persisted key before any was persisted
  transient_key_lost, // a DPS key loaded for an attempt is no longer loaded (connection reset, TPM restart)
  no_space,           // no room for another persistent object or session
  tpm,                // any other TPM or TSS failure
  busy,               // the worker's queue for this kind of work is full: nothing was sent to the TPM
};

// The five TPM2B items of a DPS authentication-key blob, in wire order (docs/dps-protocol.md §5.5).
enum class BlobPart { credential, secret, duplicate, seed, public_area };
std::string_view to_string(BlobPart part);  // "credential (TPM2B_ID_OBJECT)", …
std::string_view to_string(ErrorKind kind); // "connection", "device_missing", …
// Whether waiting can bring the TPM back without anyone acting: a simulator or device that is not there
// yet or restarting (connection), a dictionary-attack lockout running out (lockout), a full queue (busy),
// a lost transient key that the next registration attempt loads afresh from a new challenge
// (transient_key_lost).
bool passes_by_waiting(ErrorKind kind);

// Which hierarchy's password a command used; decides which config key an auth failure names.
enum class Hierarchy { none, endorsement, owner };

class Error : public std::runtime_error {
 public:
  Error(ErrorKind kind, std::string command, std::uint32_t rc, std::string problem, std::string fix,
        std::optional<BlobPart> part = std::nullopt,
        std::optional<DictionaryAttackState> dictionary_attack = std::nullopt);

  ErrorKind kind() const { return kind_; }
  std::uint32_t rc() const { return rc_; }         // TSS2_RC, 0 when the failure is not a TSS code
  const std::string& command() const { return command_; }  // e.g. "ActivateCredential", "connect"
  const std::string& problem() const { return problem_; }  // decoded return code or what is wrong
  const std::string& fix() const { return fix_; }          // empty when no fix is known
  std::optional<BlobPart> blob_part() const { return part_; }
  // The TPM's dictionary-attack state when the failure was a lockout or a counted authorization failure
  // and it could be read (see with_dictionary_attack_state).
  const std::optional<DictionaryAttackState>& dictionary_attack() const { return dictionary_attack_; }

 private:
  ErrorKind kind_;
  std::string command_;
  std::uint32_t rc_;
  std::string problem_, fix_;
  std::optional<BlobPart> part_;
  std::optional<DictionaryAttackState> dictionary_attack_;
};

// What the caller knew when a TSS call failed; turns a return code into an Error with a fix.
struct CallSite {
  std::string_view command;                   // TPM command name as in the spec, without "TPM2_"
  Hierarchy hierarchy = Hierarchy::none;      // whose password the command used
  std::string_view tcti;                      // named in connection errors
  std::string_view config_file;               // named in messages that ask to set a key
  bool auth_key_blob = false;                 // the command consumed parts of a DPS blob
};
Error make_error(const CallSite& site, std::uint32_t rc);

// A TPM failure's details as the local API and `status` carry them: kind, command, rc ("0x…"), problem,
// fix, blobPart when a DPS key blob was rejected, and lockout (lockout_json) for a lockout or a counted
// authorization failure.
nlohmann::json error_json(const Error& error);

// Return-code helpers, pure: the parts of a TSS2_RC the rest of the module decides on.
std::string decode(std::uint32_t rc);                        // Tss2_RC_Decode text plus the hex value
std::uint32_t tpm_base_code(std::uint32_t rc);               // TPM layer code without handle/parameter/session number
std::optional<unsigned> rc_parameter(std::uint32_t rc);      // n in "parameter n" of a format-one code
bool is_retryable(std::uint32_t rc);                         // TPM_RC_RETRY, _YIELDED, _TESTING
bool is_connection_failure(std::uint32_t rc);                // the TCTI lost or never had the TPM
bool is_missing_handle(std::uint32_t rc);                    // TPM_RC_HANDLE: nothing at that handle
bool is_unloaded_reference(std::uint32_t rc);                // TPM_RC_REFERENCE_H0…H6: a transient object is gone

// Runs `call` (returning a TSS2_RC) until it succeeds or fails with something other than TPM_RC_RETRY,
// _YIELDED or _TESTING, at most `max_attempts` times, calling `pause(attempt)` between tries.
// Returns the last return code.
inline constexpr int max_tpm_attempts = 5;
template <typename Call, typename Pause>
std::uint32_t with_retries(Call&& call, Pause&& pause, int max_attempts = max_tpm_attempts) {
  for (int attempt = 1;; ++attempt) {
    const std::uint32_t rc = call();
    if (rc == 0 || !is_retryable(rc) || attempt >= max_attempts) return rc;
    pause(attempt);
  }
}

}  // namespace edgeprov::tpm
