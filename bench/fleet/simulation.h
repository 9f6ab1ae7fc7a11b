// bench/fleet/simulation.h — a fleet on a virtual clock: a discrete-event simulation in one thread, with no
// sockets, no threads and no real time. Each edgeprov device is the real provisioning machine
// (service::provisioning::transition, with the backoff of dps/retry) fed by the attempt model of
// attempt_model.h; DPS is the emulator's quota and outage models. The naive client is modelled beside it.
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <vector>

#include "bench/fleet/attempt_model.h"
#include "bench/fleet/scenario.h"
#include "dps/retry.h"
#include "emulator/traffic.h"

namespace edgeprov::fleet {

enum class Client { edgeprov, naive };
std::string_view to_string(Client client);

// One device's story.
struct DeviceRecord {
  Duration started{};
  std::optional<Duration> provisioned;
  bool failed = false;  // DPS's answer needs an operator (terminal), or never provisioned before the run ended
  std::uint32_t registers = 0, polls = 0;  // requests sent, whatever became of them
  std::uint32_t throttled = 0, refused = 0;
};

// What DPS received, per second of the scenario, by request kind and outcome.
class Traffic {
 public:
  using Counts = std::array<std::uint32_t, 6>;  // [kind × 3 + outcome]
  void add(Duration at, emulator::RequestKind kind, emulator::Outcome outcome);
  [[nodiscard]] std::uint32_t at(std::size_t second, emulator::RequestKind kind, emulator::Outcome outcome) const;
  [[nodiscard]] std::size_t seconds() const { return counts_.size(); }

 private:
  std::vector<Counts> counts_;
};

struct FleetRun {
  std::vector<DeviceRecord> devices;
  Traffic traffic;
  Duration ended{};      // the last event
  double wall_seconds = 0;
};

struct SimulationOptions {
  dps::BackoffPolicy backoff;  // edgeprov: what machine_settings() gives edgeprovd (the default policy)
  NaivePolicy naive;
  // Devices not provisioned by floor × this (plus an hour) are counted as failed and the run ends.
  double give_up_after_floors = 20;
};

FleetRun simulate(const FleetSpec& spec, Client client, std::uint64_t seed, const SimulationOptions& options = {});

}  // namespace edgeprov::fleet
