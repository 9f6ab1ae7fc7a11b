// bench/fleet/real_fleet.h — a fleet of real edgeprovd processes against one dps-emulator on this machine:
// each device its own configuration (`edgeprovctl init`, a symmetric key derived from one enrollment group),
// state directory, socket and log, started on the scenario's schedule. What happened is read back from the
// devices (each one's status, followed with `subscribe`) and from the emulator (its request log and /stats);
// nothing is waited for by sleeping. Linux only, like the emulator.
#pragma once
#include <chrono>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "bench/fleet/scenario.h"
#include "bench/fleet/simulation.h"

namespace edgeprov::fleet {

struct RealOptions {
  std::string transport = "https";  // or "mqtt"
  std::string log_level = "info";    // edgeprovd's
  // Devices not provisioned this long after the floor (in addition to it) count as failed.
  std::chrono::seconds patience{600};
  std::optional<std::filesystem::path> keep;  // copy the run's directory (configs, logs) here
  std::function<void(const std::string&)> progress;  // a line now and then (stderr)
};

struct RealRun {
  FleetRun run;
  nlohmann::json emulator_stats;    // GET /stats at the end
  double start_lag_seconds = 0;     // median, from a device's spawn to its first request at the emulator
  double handling_ms = 0;           // median time the emulator took per request
  double round_trip_ms = 0;         // median request round trip as the devices logged it
  std::size_t log_requests = 0;     // request lines read from the emulator's log (they must match /stats)
  double peak_load_average = 0;     // the 1-minute load average, highest seen
};

RealRun run_real(const FleetSpec& spec, const RealOptions& options);

}  // namespace edgeprov::fleet
