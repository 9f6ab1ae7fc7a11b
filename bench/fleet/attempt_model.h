// bench/fleet/attempt_model.h — the two halves of one request that the fleet simulation cannot run for real:
// what dps-emulator answers (its quota and outage models, then its provisioning service's replies, built by
// the emulator's own functions), and what one dps::Registration attempt does with each answer (read by dps's
// real reply parser). Pure: time is passed in, nothing waits, nothing is sent.
//
// The attempt follows dps/registration.cpp for a symmetric-key device (HTTPS and MQTT alike):
//   register → 202 `assigning` → poll after poll_interval(Retry-After) → … → 200 `assigned`: done.
//   A poll refused for a while with a Retry-After (429, a 5xx that names one) is sent again after it, in
//   the same attempt (dps::poll_again_after). Any other answer to the register request or to a poll ends
//   the attempt with that error: the next attempt, after the machine's backoff, starts again with a register
//   request, which counts against the registration quota again. After max_polls polls (answered or refused)
//   the attempt ends (transient).
// The naive client is the Azure IoT C SDK's loop as docs/fleet.md describes it: a transient answer repeats
// the same request after the server's Retry-After, or after a fixed interval without one; no jitter, no
// growth, no end.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>

#include "common/time.h"
#include "dps/registration.h"
#include "emulator/outage.h"
#include "emulator/quota.h"
#include "emulator/replies.h"
#include "emulator/traffic.h"
#include "bench/fleet/scenario.h"

namespace edgeprov::fleet {

// ---- The emulator -------------------------------------------------------------------------------------

// What the emulator's front door decides for one request, as DeviceGate::admit does: an outage in force
// refuses it, else the quota of its kind throttles it, else it passes to the provisioning service.
struct Verdict {
  emulator::Outcome outcome = emulator::Outcome::accepted;
  std::optional<emulator::Throttled> throttled;
  std::optional<emulator::Outage> outage;
  // The Retry-After the answer carries (429: the quota's; 503: the outage's, if it sets one).
  [[nodiscard]] std::optional<std::chrono::seconds> retry_after() const;
};

class SimulatedDps {
 public:
  // `origin` is t = 0 on the quota's clock; `wall_origin` the same moment on the wall clock (reply times).
  SimulatedDps(const FleetSpec& spec, emulator::AdmissionTime origin, SystemTime wall_origin);

  Verdict judge(const std::string& registration_key, emulator::RequestKind kind, Duration at);

  // The whole answer to a request at `at` that already got its verdict, exactly as the emulator sends it.
  // `polls_before` is how many polls of this operation came before (the emulator answers `assigning` to
  // the first assigning_polls of them).
  emulator::DeviceReply answer(const Verdict& verdict, emulator::RequestKind kind,
                               const std::string& registration_id, unsigned polls_before, Duration at) const;

 private:
  FleetSpec spec_;
  emulator::AdmissionTime origin_;
  SystemTime wall_origin_;
  emulator::QuotaModel quota_;
  emulator::OutageSchedule outages_;
};

// ---- edgeprov's attempt -------------------------------------------------------------------------------

inline constexpr const char* simulated_id_scope = "0ne00F1EE70";

struct AttemptState {
  std::string registration_id;
  unsigned polls = 0;           // polls sent so far
  unsigned polls_answered = 0;  // of those, the ones DPS let through (only they count towards assigning_polls)
  std::string operation_id;
};

struct PollAfter {
  std::chrono::seconds wait;
};
struct AttemptOver {
  dps::RegistrationOutcome outcome;
};
using AttemptStep = std::variant<PollAfter, AttemptOver>;

// DPS's answer as the attempt reads it: dps's reply parser, given what the HTTPS channel hands over.
dps::Reply read_reply(const emulator::DeviceReply& reply, const AttemptState& attempt);
// What the attempt does with the reply (HTTP `status`) to its register request or its last poll, at `now`.
AttemptStep next_step(AttemptState& attempt, dps::Reply reply, int status, SystemTime now,
                      unsigned max_polls = dps::RegistrationRequest{}.max_polls);

// ---- The naive client ---------------------------------------------------------------------------------

struct NaivePolicy {
  std::chrono::seconds interval{3};  // without a Retry-After (the C SDK's default throttle time)
};
// When a naive client sends its next request after a transient answer carrying `retry_after`.
std::chrono::seconds naive_wait(const NaivePolicy& policy, std::optional<std::chrono::seconds> retry_after);

}  // namespace edgeprov::fleet
