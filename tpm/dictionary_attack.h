// tpm/dictionary_attack.h — the TPM's dictionary-attack (DA) protection in edgeprov's words: how many
// failed authorizations it counted, where it locks, how fast it forgets, and so when keys such as the DPS
// key can be used again and what an operator can do. Pure: the TPM's properties in, times and words out.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace edgeprov::tpm {

class Error;

// The TPM's DA properties as TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES) reports them. Reading them needs
// no authorization, so they can be read while the TPM is locked out.
struct DictionaryAttackState {
  std::uint32_t counter = 0;           // TPM_PT_LOCKOUT_COUNTER: failed authorizations counted now
  std::uint32_t max_tries = 0;         // TPM_PT_MAX_AUTH_FAIL: the count at which the TPM locks out
  std::uint32_t interval_seconds = 0;  // TPM_PT_LOCKOUT_INTERVAL: one failure is forgotten per interval of
                                       // powered-on time; 0 turns DA protection off
  std::uint32_t recovery_seconds = 0;  // TPM_PT_LOCKOUT_RECOVERY: after a wrong lockout password, how long
                                       // the lockout hierarchy refuses; 0 = until the next TPM reset
  bool in_lockout = false;             // TPM_PT_PERMANENT inLockout
  bool lockout_auth_set = false;       // TPM_PT_PERMANENT lockoutAuthSet: clearing needs that password
  bool operator==(const DictionaryAttackState&) const = default;
};

// How long until DA-protected keys can be used again, in time the TPM is powered on: zero when they can
// be used now; an upper bound while locked out (the TPM does not say how much of the current interval has
// passed); std::nullopt when waiting never ends it (a limit of 0 tries).
std::optional<std::chrono::seconds> time_until_usable(const DictionaryAttackState& state);

// What the lockout means and when it ends ("the TPM is in dictionary-attack lockout: …").
std::string lockout_problem(const DictionaryAttackState& state);
// What an operator can do: wait, or clear it with the lockout authorization; and why it happens
// (non-orderly shutdowns count against DA-protected keys).
std::string lockout_fix(const DictionaryAttackState& state);

// `error` (kind lockout or auth_failed) told with the TPM's DA state: its problem and fix rewritten,
// the state kept for error_json. Other kinds are returned unchanged.
Error with_dictionary_attack_state(const Error& error, const DictionaryAttackState& state);

// The lockout as an Error when no command failed but the TPM was found locked out (a probe read inLockout
// with the DPS key persisted): kind lockout, rc TPM_RC_LOCKOUT, `command` the step that would fail.
Error lockout_error(const DictionaryAttackState& state, std::string command = "sign with the DPS key");

// The `lockout` object of tpm.info and of TPM errors: inLockout, counter, maxTries, intervalSeconds,
// recoverySeconds, lockoutAuthSet, and secondsUntilUsable (null when waiting does not end it).
nlohmann::json lockout_json(const DictionaryAttackState& state);

}  // namespace edgeprov::tpm
