// service/provisioning_machine.h — edgeprovd's provisioning logic as data: a closed set of phases, a closed
// set of events, and one pure transition function (model + event + moment → model + effects). It decides
// everything — start-up by auto_reprovisioning_mode, the cache served while the TPM confirms the identity,
// attempts and their backoff, what a failure does to the persisted assignment, reprovision, the TPM going
// and coming back, stop — and does nothing: no clock, no I/O, no threads. service/provisioner.h carries out
// the effects. The transition table is in docs/architecture.md (a test keeps it true).
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "dps/error.h"
#include "dps/registration.h"
#include "dps/retry.h"
#include "edge-config/config.h"
#include "service/state_store.h"
#include "service/status.h"

namespace edgeprov::service::provisioning {

using SteadyTime = std::chrono::steady_clock::time_point;

// When an event happens, and one uniform draw in [0, 1) for the backoff jitter. Timers run on the steady
// clock, so a wall clock set forward or back never fires one early or late; the wall clock only stamps
// what is shown and persisted.
struct Moment {
  SteadyTime steady;
  SystemTime system;
  double random = 0.5;
};

// Fixed for the life of the process: what the configuration says.
struct Settings {
  config::ReprovisioningMode mode = config::ReprovisioningMode::dynamic;
  bool tpm = true;  // the identity is the TPM's (attestation method tpm)
  // tpm without a configured registration id: the id is the TPM's, so a persisted assignment may be served
  // before the TPM answers (after a boot it may not be ready yet) and is confirmed once it does.
  bool registration_id_from_tpm = true;
  // What a persisted assignment must have been obtained with (its registration id is checked apart).
  std::string global_endpoint;
  std::string id_scope;
  dps::AttestationMethod attestation = dps::AttestationMethod::tpm;
  dps::BackoffPolicy backoff;  // between DPS attempts
  // A TPM that does not answer is asked again every `tpm_poll` for the first `tpm_quick_polls` tries (a
  // boot where the TPM's resource manager or TBS comes up after the service: the device must be confirmed
  // within a second of the TPM answering), then less and less often, up to every `tpm_max_poll`. Reading
  // a local TPM that is not there costs a failed open or connect; there is no server to spare.
  std::chrono::seconds tpm_poll{1};
  unsigned tpm_quick_polls = 60;
  std::chrono::seconds tpm_max_poll{60};
  // The longest wait a persisted next-attempt time may impose after a restart: a later time (a clock set
  // back, a corrupt value) is cut to this, so a device never sits idle for days.
  std::chrono::seconds max_persisted_wait = dps::max_retry_after;
};

// ---- Phases ------------------------------------------------------------------------------------------

struct ReadingIdentity {};  // the TPM's keys (or the configured identity) are being read
struct WaitingForTpm {};    // the TPM did not answer; read again when the timer fires
// The persisted assignment is served (provisioned, source cache) while the TPM confirms that it is the
// device it was made for; `reading` while the keys are being read, else waiting for the timer.
struct ServingCache {
  bool reading = true;
};
struct Registering {};      // a DPS attempt is in flight
struct WaitingToRetry {};   // a transient failure; the next attempt when the timer fires
// Assigned (source dps or cache). `probing` while the TPM, which failed a signature, is read again.
struct Provisioned {
  bool probing = false;
};
struct Failed {
  dps::Error error;  // needs someone to act: the configuration, the enrollment, the TPM
};
struct Stopped {
  State shown = State::starting;  // what status showed when the service stopped
};
using Phase =
    std::variant<ReadingIdentity, WaitingForTpm, ServingCache, Registering, WaitingToRetry, Provisioned, Failed, Stopped>;

// ---- Events ------------------------------------------------------------------------------------------

struct Start {
  // provisioning.json as it is, unchecked (StateStore::peek), for serving it before the TPM answers.
  std::optional<PersistedState> peeked;
};
struct IdentityRead {
  std::string registration_id;
  // provisioning.json as written for this identity (StateStore::load: anything else was set aside).
  std::optional<PersistedState> loaded;
  std::optional<bool> auth_key_present;  // TPM: whether the DPS key is in the TPM, when known
};
struct IdentityUnavailable {
  dps::Error error;  // tpm (transient when the TPM may come back) or config
};
struct AttemptFinished {
  dps::RegistrationOutcome outcome;
};
struct TimerFired {
  std::uint64_t id = 0;
};
struct ReprovisionRequested {};
struct TpmFailed {  // a TPM operation outside an attempt (a signature for identity.*) failed
  dps::Error error;
};
struct TpmAnswered {};  // a TPM operation outside an attempt succeeded
struct Stop {};
using Event = std::variant<Start, IdentityRead, IdentityUnavailable, AttemptFinished, TimerFired, ReprovisionRequested,
                           TpmFailed, TpmAnswered, Stop>;

// ---- Effects -----------------------------------------------------------------------------------------

struct ReadIdentity {};  // → IdentityRead or IdentityUnavailable
struct StartAttempt {    // → AttemptFinished
  std::string registration_id;
  unsigned attempt = 0;
};
struct CancelAttempt {};  // the attempt ends; its AttemptFinished is not delivered
struct Persist {
  PersistedState state;
};
struct Timer {
  std::uint64_t id = 0;
  SteadyTime at;
  SystemTime shown_at;  // the same moment on the wall clock when it was armed: nextAttemptAt
};
struct ArmTimer {  // → TimerFired{id} at `at` (one timer at a time: arming replaces)
  Timer timer;
};
struct CancelTimer {};
// How a reprovision (any attempt someone waits for) ended; the Provisioner answers every waiting caller.
struct AttemptResult {
  bool assigned = false;
  std::optional<dps::Error> error;  // set when !assigned
};
struct AnswerWaiters {
  AttemptResult result;
};
enum class LogLevel { info, warn, error };
struct Log {
  LogLevel level = LogLevel::info;
  std::string message;  // never a secret: the model holds none
};
using Effect = std::variant<ReadIdentity, StartAttempt, CancelAttempt, Persist, ArmTimer, CancelTimer, AnswerWaiters, Log>;

// ---- The model -------------------------------------------------------------------------------------------

struct TpmHealth {
  std::optional<bool> available;               // null until the TPM was first asked
  std::optional<std::string> registration_id;  // from the TPM's EK, once read
  std::optional<bool> auth_key_present;
  std::optional<dps::Error> error;             // why it cannot be used now
};

struct Model {
  Settings settings;
  Phase phase = ReadingIdentity{};
  bool started = false;  // Start was seen: the first read of the identity was asked for
  SystemTime since;  // when the state `status` shows was entered
  std::optional<std::string> registration_id;  // provisional while serving the cache, then confirmed
  bool identity_confirmed = false;
  PersistedState persisted;       // what provisioning.json holds (or will hold)
  std::optional<Source> source;   // where the assignment in `persisted` came from in this run
  std::optional<Attempt> last_attempt;
  unsigned attempts = 0;          // DPS attempts started in this run
  bool startup_attempt = true;    // no attempt has finished in this run yet
  bool reprovision_pending = false;  // asked for before the identity was known
  dps::RetrySchedule tpm_retry;   // consecutive reads of a TPM that did not answer
  TpmHealth tpm;
  std::optional<Timer> timer;     // the one armed timer
  std::uint64_t timers_armed = 0;
};

struct Step {
  Model model;
  std::vector<Effect> effects;
};

// A new model in ReadingIdentity; `Start` is its first event.
Model initial_model(Settings settings, SystemTime now);

// The whole logic. Total: every event in every phase gives a step (an event that means nothing in a
// phase, such as a timer that was cancelled, leaves the model as it is and has no effects).
Step transition(const Model& model, const Event& event, const Moment& at);

// What `status` shows, written in one place: the state, since, source, assignment, attempts, the TPM's
// health and the registration id. `base` brings what the model does not own (the configured provisioning
// settings and the TCTI).
StatusSnapshot project(const Model& model, StatusSnapshot base);

// Names for logs, tests and docs/architecture.md.
std::string_view phase_name(const Phase& phase);
std::string_view event_name(const Event& event);
std::string_view effect_name(const Effect& effect);
State shown_state(const Phase& phase);

}  // namespace edgeprov::service::provisioning
