// bench/fleet/figures.h — the figures of a fleet run (docs/fleet.md, "Reading the figures"), the same for
// simulated and real runs: convergence against the floor, throttled requests per device, time to provisioned,
// the busiest minute, failures. As JSON (bench_fleet --json), as a table, and as an SVG picture of register
// requests per minute against the quota for both policies.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/fleet/scenario.h"
#include "bench/fleet/simulation.h"

namespace edgeprov::fleet {

struct Figures {
  std::size_t devices = 0;
  double quota_per_minute = 0;
  double floor_seconds = 0;
  double converged_seconds = 0;  // when the last device that got provisioned did (from t = 0)
  double convergence_ratio = 0;  // converged ÷ floor
  double throttled_per_device_mean = 0;
  double throttled_per_device_max = 0;
  double p50_seconds = 0, p99_seconds = 0;  // per device, from its start to provisioned
  double peak_requests_per_minute = 0;      // register requests (whatever their answer) in any 60 s
  double failed = 0;                        // devices never provisioned (terminal answer, or the run ended)
  double wall_seconds = 0;
  double requests_per_device_mean = 0;      // register requests and polls
  double refused_per_device_mean = 0;       // 503s of an outage
  std::size_t runs = 1;                     // a mean over this many simulated runs
  // Over those runs: the least and the most of two figures that vary from run to run.
  double converged_seconds_min = 0, converged_seconds_max = 0;
  double throttled_per_device_mean_min = 0, throttled_per_device_mean_max = 0;
};

Figures figures(const FleetSpec& spec, const FleetRun& run);
// The mean of each figure (max and failed: the mean too), with `runs` set.
Figures mean(const std::vector<Figures>& runs);

nlohmann::json to_json(const Figures& figures);
// The fields and ours, one row per labelled set of figures.
std::string table(const std::vector<std::pair<std::string, Figures>>& rows);

struct ChartLine {
  std::string label;  // e.g. "edgeprov (real)"
  std::string colour;  // CSS colour
  const FleetRun* run = nullptr;
  double converged_seconds = 0;
};
// Register requests per minute (a trailing 60 s window, every 5 s) of each run, all and accepted, against the
// quota; a logarithmic axis when the busiest minute exceeds ten times the quota.
std::string svg_chart(const FleetSpec& spec, const std::vector<ChartLine>& lines, const std::string& title);

}  // namespace edgeprov::fleet
