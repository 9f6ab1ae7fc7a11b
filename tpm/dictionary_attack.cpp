#include "tpm/dictionary_attack.h"

#include <fmt/format.h>
#include <tss2/tss2_tpm2_types.h>

#include "common/time.h"
#include "tpm/error.h"

namespace edgeprov::tpm {

using std::chrono::seconds;

std::optional<seconds> time_until_usable(const DictionaryAttackState& state) {
  if (!state.in_lockout) return seconds{0};
  if (state.max_tries == 0 || state.interval_seconds == 0) return std::nullopt;
  // Locked while counter >= max_tries; each interval of powered-on time takes one failure off.
  const std::uint64_t steps = state.counter >= state.max_tries ? state.counter - state.max_tries + 1 : 1;
  return seconds{static_cast<seconds::rep>(steps * state.interval_seconds)};
}

namespace {

std::string interval_text(std::uint32_t s) { return duration_text(seconds{s}); }

std::string clear_command(const DictionaryAttackState& state) {
  return state.lockout_auth_set
             ? "`tpm2_dictionarylockout --clear-lockout -p LOCKOUT_PASSWORD` (this TPM has a lockout password)"
             : "`tpm2_dictionarylockout --clear-lockout` (this TPM has no lockout password)";
}

std::string wrong_lockout_password(const DictionaryAttackState& state) {
  if (!state.lockout_auth_set) return "";
  return state.recovery_seconds == 0
             ? "; a wrong lockout password blocks that command until the TPM is next reset"
             : fmt::format("; a wrong lockout password blocks that command for {}", interval_text(state.recovery_seconds));
}

}  // namespace

std::string lockout_problem(const DictionaryAttackState& state) {
  std::string text = fmt::format(
      "the TPM is in dictionary-attack lockout: it counted {} failed authorization{} and locks at {}, so it "
      "refuses every key protected against dictionary attacks, the DPS key included",
      state.counter, state.counter == 1 ? "" : "s", state.max_tries);
  if (const auto wait = time_until_usable(state)) {
    text += fmt::format("; it forgets one failure per {} it is powered on, so the key can be used again in at "
                        "most {} of powered-on time",
                        interval_text(state.interval_seconds), duration_text(*wait));
  } else {
    text += fmt::format("; with a limit of {} tries and a lockout interval of {} s it does not leave lockout by itself",
                        state.max_tries, state.interval_seconds);
  }
  return text;
}

std::string lockout_fix(const DictionaryAttackState& state) {
  const bool waits = time_until_usable(state).has_value();
  std::string text = waits ? "wait: edgeprov keeps its assignment and signs again by itself once the TPM recovers; "
                             "or end the lockout now with " +
                                 clear_command(state)
                           : "clear the lockout with " + clear_command(state) +
                                 " and set a limit with `tpm2_dictionarylockout --setup-parameters --max-tries=N`";
  text += wrong_lockout_password(state);
  text += ". Why: every reset or power loss without an orderly TPM shutdown after the DPS key was used counts as "
          "a failed authorization, so a device that loses power repeatedly locks its key; shut it down cleanly, or "
          "raise the limit with `tpm2_dictionarylockout --setup-parameters --max-tries=N --recovery-time=SECONDS`";
  return text;
}

Error with_dictionary_attack_state(const Error& error, const DictionaryAttackState& state) {
  if (error.kind() == ErrorKind::lockout) {
    return Error(ErrorKind::lockout, error.command(), error.rc(), lockout_problem(state) + " (" + decode(error.rc()) + ")",
                 lockout_fix(state), error.blob_part(), state);
  }
  if (error.kind() == ErrorKind::auth_failed) {
    std::string problem = error.problem();
    if (state.max_tries != 0 && state.interval_seconds != 0) {
      problem += state.in_lockout ? fmt::format("; the TPM is now in dictionary-attack lockout ({} of {})",
                                                state.counter, state.max_tries)
                                  : fmt::format("; {} of {} failed authorizations are counted before lockout",
                                                state.counter, state.max_tries);
    }
    return Error(ErrorKind::auth_failed, error.command(), error.rc(), problem, error.fix(), error.blob_part(), state);
  }
  return error;
}

Error lockout_error(const DictionaryAttackState& state, std::string command) {
  return with_dictionary_attack_state(Error(ErrorKind::lockout, std::move(command), TPM2_RC_LOCKOUT, {}, {}), state);
}

nlohmann::json lockout_json(const DictionaryAttackState& state) {
  const auto wait = time_until_usable(state);
  return {{"inLockout", state.in_lockout},
          {"counter", state.counter},
          {"maxTries", state.max_tries},
          {"intervalSeconds", state.interval_seconds},
          {"recoverySeconds", state.recovery_seconds},
          {"lockoutAuthSet", state.lockout_auth_set},
          {"secondsUntilUsable", wait ? nlohmann::json(wait->count()) : nlohmann::json(nullptr)}};
}

}  // namespace edgeprov::tpm
