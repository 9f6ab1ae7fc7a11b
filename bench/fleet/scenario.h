// bench/fleet/scenario.h — what a fleet rehearsal runs: how many devices, when each starts, DPS's quotas and
// outage, and what the emulator answers while a registration is being assigned. The same spec drives the
// simulation and the real processes, so both see the same arrivals (docs/fleet.md, "Scenarios").
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "emulator/quota.h"

namespace edgeprov::fleet {

// Time since the scenario began (t = 0: the first device may start).
using Duration = std::chrono::steady_clock::duration;

enum class Scenario {
  rollout,  // every device starts within the start spread (one minute)
  outage,   // as rollout, with DPS refusing every request (503) from t = 0 for the outage length
  trickle,  // devices start one by one at random (Poisson) at a share of the quota, for ever as it were
};
std::string_view to_string(Scenario scenario);
std::optional<Scenario> parse_scenario(std::string_view text);

struct FleetSpec {
  Scenario scenario = Scenario::rollout;
  std::size_t devices = 200;
  // The emulator's quotas. registrations is always set: the rehearsal is about it.
  emulator::RateLimit registrations{60, std::chrono::seconds(60)};
  std::optional<emulator::RateLimit> polls_per_device = emulator::RateLimit{5, std::chrono::seconds(10)};
  // rollout and outage: device i (from 0) starts at i × start_spread ÷ devices.
  Duration start_spread = std::chrono::seconds(60);
  // outage: DPS refuses every device request from t = 0 for this long (503 without Retry-After).
  Duration outage_length = std::chrono::minutes(10);
  // trickle: arrivals at random at this share of the registration quota.
  double trickle_load = 0.9;
  // What the emulator answers a register request with (--retry-after, --assigning-polls): a 202 with this
  // Retry-After, then this many polls answered `assigning` before the one that answers `assigned`.
  std::chrono::seconds assigning_retry_after{1};
  unsigned assigning_polls = 0;
  // Simulation only: the round trip of one request, and the time from a device's start to its first request.
  Duration request_latency = std::chrono::milliseconds(20);
  Duration start_delay = std::chrono::milliseconds(0);
  std::uint64_t seed = 1;  // trickle arrivals (shared by both modes), and the simulation's jitter draws
};

// When each device starts, in device order, non-decreasing. Deterministic for a spec.
std::vector<Duration> arrival_times(const FleetSpec& spec);

// Requests per minute the registration quota allows (limit scaled to 60 s).
double quota_per_minute(const FleetSpec& spec);

// The earliest the fleet could be provisioned, as docs/fleet.md defines it: devices ÷ quota (the issue's
// floor), plus the outage for `outage`, and never before the last device of a trickle starts.
Duration floor_time(const FleetSpec& spec);

double seconds(Duration d);

}  // namespace edgeprov::fleet
