#include "bench/fleet/attempt_model.h"

#include <fmt/format.h>

#include "dps/reply.h"
#include "dps/retry.h"
#include "emulator/device_gate.h"

namespace edgeprov::fleet {

using emulator::Outcome;
using emulator::RequestKind;

std::optional<std::chrono::seconds> Verdict::retry_after() const {
  if (throttled) return throttled->retry_after;
  if (outage) return outage->retry_after;
  return std::nullopt;
}

SimulatedDps::SimulatedDps(const FleetSpec& spec, emulator::AdmissionTime origin, SystemTime wall_origin)
    : spec_(spec),
      origin_(origin),
      wall_origin_(wall_origin),
      quota_(emulator::QuotaSettings{spec.registrations, spec.polls_per_device}) {
  if (spec.scenario == Scenario::outage) outages_.add(emulator::OutageMode::refuse, origin, spec.outage_length);
}

Verdict SimulatedDps::judge(const std::string& registration_key, RequestKind kind, Duration at) {
  const emulator::AdmissionTime now = origin_ + at;
  Verdict verdict;
  if (auto outage = outages_.in_force(now)) {
    verdict.outcome = Outcome::refused;
    verdict.outage = outage;
    return verdict;
  }
  emulator::Admission admission = quota_.admit(registration_key, kind, now);
  if (auto* throttled = std::get_if<emulator::Throttled>(&admission)) {
    verdict.outcome = Outcome::throttled;
    verdict.throttled = *throttled;
  }
  return verdict;
}

emulator::DeviceReply SimulatedDps::answer(const Verdict& verdict, RequestKind kind, const std::string& registration_id,
                                           unsigned polls_before, Duration at) const {
  const SystemTime wall = wall_origin_ + std::chrono::duration_cast<std::chrono::system_clock::duration>(at);
  if (verdict.throttled) return emulator::throttled_reply(*verdict.throttled, wall);
  if (verdict.outage) return emulator::outage_reply(*verdict.outage, wall);
  const std::string operation_id = "4." + registration_id;
  const int retry_after = static_cast<int>(spec_.assigning_retry_after.count());
  if (kind == RequestKind::register_device) return emulator::assigning_reply(operation_id, retry_after);
  if (polls_before < spec_.assigning_polls)
    return emulator::assigning_poll_reply(operation_id, registration_id, retry_after);
  const std::string stamp = to_rfc3339(wall, true);
  return emulator::final_poll_reply(operation_id, {{"registrationId", registration_id},
                                                   {"createdDateTimeUtc", stamp},
                                                   {"assignedHub", "hub-a.azure-devices.net"},
                                                   {"deviceId", registration_id},
                                                   {"status", "assigned"},
                                                   {"substatus", "initialAssignment"},
                                                   {"lastUpdatedDateTimeUtc", stamp},
                                                   {"etag", "\"1\""}});
}

dps::Reply read_reply(const emulator::DeviceReply& reply, const AttemptState& attempt) {
  // As Registration::Impl::on_reply builds the context; the emulator's HTTPS answers are JSON.
  dps::ReplyContext context;
  context.id_scope = simulated_id_scope;
  context.registration_id = attempt.registration_id;
  context.attestation = dps::AttestationMethod::symmetric_key;
  if (attempt.polls > 0) context.operation_id = attempt.operation_id;
  const std::string retry_after = reply.retry_after ? std::to_string(*reply.retry_after) : std::string();
  return dps::parse_http_reply(reply.status, retry_after, "application/json; charset=utf-8", reply.body, context);
}

AttemptStep next_step(AttemptState& attempt, dps::Reply parsed, int status, SystemTime now, unsigned max_polls) {
  if (auto* assigned = std::get_if<dps::Assigned>(&parsed)) return AttemptOver{std::move(*assigned)};
  if (auto* assigning = std::get_if<dps::Assigning>(&parsed)) {
    // As on_assigning: the poll limit first, then the wait DPS asked for.
    if (!assigning->operation_id.empty()) attempt.operation_id = assigning->operation_id;
    if (attempt.polls >= max_polls) {
      dps::Error failure{.cause = dps::Rejection{.http_status = status,
                                                 .cause = dps::RejectionCause::still_assigning,
                                                 .retry_after = assigning->retry_after},
                         .transient = true};
      failure.message = fmt::format("DPS still answered `assigning` after {} status polls", attempt.polls);
      return AttemptOver{std::move(failure)};
    }
    ++attempt.polls;
    return PollAfter{dps::poll_interval(assigning->retry_after, now)};
  }
  if (std::holds_alternative<dps::TpmChallenge>(parsed)) {
    // A symmetric-key device challenged: terminal, as on_challenge decides.
    dps::Error failure{.cause = dps::Rejection{.http_status = 401, .cause = dps::RejectionCause::unauthorized}};
    failure.message = "DPS answered a symmetric-key device with a TPM challenge";
    return AttemptOver{std::move(failure)};
  }
  auto& refusal = std::get<dps::Rejected>(parsed);
  if (attempt.polls > 0 && dps::poll_again_after(refusal)) {
    // As on_poll_refused: the same operation again after the Retry-After, within the poll limit.
    if (attempt.polls >= max_polls) return AttemptOver{dps::rejected(std::move(refusal))};
    ++attempt.polls;
    return PollAfter{dps::poll_interval(refusal.retry_after, now)};
  }
  return AttemptOver{dps::rejected(std::move(refusal))};
}

std::chrono::seconds naive_wait(const NaivePolicy& policy, std::optional<std::chrono::seconds> retry_after) {
  if (retry_after && *retry_after >= std::chrono::seconds(1) && *retry_after <= std::chrono::seconds(300))
    return *retry_after;
  return policy.interval;
}

}  // namespace edgeprov::fleet
