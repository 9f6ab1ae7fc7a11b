// bench_fleet — a fleet rehearsal: N devices provisioning against DPS's rate limits, in simulated time or as
// real edgeprovd processes against dps-emulator, with a naive client (the Azure IoT C SDK's fixed retry)
// simulated beside it. Prints the figures (a table, or one JSON object with --json) and draws the requests per
// minute against the quota as SVG. Figures are measured and printed, never judged. docs/fleet.md is the manual.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <optional>
#include <thread>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "bench/fleet/figures.h"
#include "bench/fleet/real_fleet.h"
#include "bench/fleet/scenario.h"
#include "bench/fleet/simulation.h"

using namespace edgeprov;
using namespace edgeprov::fleet;

namespace {

struct Options {
  std::string mode = "simulated";
  std::string scenario = "rollout";
  std::size_t devices = 0;  // 0: the mode's default
  std::uint32_t quota = 60;
  std::uint32_t quota_window = 60;
  double start_spread = 60;
  double outage_minutes = 10;
  double trickle_load = 0.9;
  unsigned assigning_retry_after = 1;
  unsigned assigning_polls = 0;
  unsigned naive_interval = 3;
  double latency_ms = 20;
  std::uint64_t seed = 1;
  std::size_t runs = 1;
  bool json = false;
  std::string svg;
  std::string transport = "https";
  std::string keep;
  unsigned patience = 600;
  std::optional<unsigned> throttle_spread, max_delay;  // what-if: another retry policy (simulated only)
};

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double one = 0, five = 0, fifteen = 0;
  in >> one >> five >> fifteen;
  return fmt::format("{:.2f} {:.2f} {:.2f}", one, five, fifteen);
}

FleetSpec spec_of(const Options& o, Scenario scenario) {
  FleetSpec spec;
  spec.scenario = scenario;
  spec.devices = o.devices;
  spec.registrations = {o.quota, std::chrono::seconds(o.quota_window)};
  spec.start_spread = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.start_spread));
  spec.outage_length = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(o.outage_minutes * 60));
  spec.trickle_load = o.trickle_load;
  spec.assigning_retry_after = std::chrono::seconds(o.assigning_retry_after);
  spec.assigning_polls = o.assigning_polls;
  spec.request_latency = std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(o.latency_ms));
  spec.seed = o.seed;
  return spec;
}

// `runs` simulated runs with seeds seed, seed+1, …: their mean figures, and the first run (for the picture).
struct Simulated {
  Figures figures;
  FleetRun first;
};
Simulated simulate_runs(const FleetSpec& spec, Client client, const Options& o) {
  SimulationOptions options;
  options.naive.interval = std::chrono::seconds(o.naive_interval);
  if (o.throttle_spread) options.backoff.throttle_spread = std::chrono::seconds(*o.throttle_spread);
  if (o.max_delay) options.backoff.max_delay = std::chrono::seconds(*o.max_delay);
  std::vector<Figures> all;
  Simulated out;
  for (std::size_t k = 0; k < std::max<std::size_t>(1, o.runs); ++k) {
    FleetRun run = simulate(spec, client, o.seed + k, options);
    all.push_back(figures(spec, run));
    if (k == 0) out.first = std::move(run);
  }
  out.figures = mean(all);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"bench_fleet: rehearse provisioning a fleet against DPS's rate limits (docs/fleet.md)"};
  Options o;
  app.add_option("--mode", o.mode, "simulated (one process, virtual time) or real (edgeprovd processes)")
      ->check(CLI::IsMember({"simulated", "real"}));
  app.add_option("--scenario", o.scenario, "rollout, outage or trickle")->check(CLI::IsMember({"rollout", "outage", "trickle"}));
  app.add_option("--devices", o.devices, "fleet size (default: 100000 simulated, 200 real)");
  app.add_option("--quota", o.quota, "registrations DPS accepts per quota window (default 60)")->check(CLI::Range(1u, 10'000'000u));
  app.add_option("--quota-window", o.quota_window, "the registration quota's window in seconds (default 60)")
      ->check(CLI::Range(1u, 86'400u));
  app.add_option("--start-spread", o.start_spread, "rollout, outage: devices start evenly over this many seconds (60)");
  app.add_option("--outage-minutes", o.outage_minutes, "outage: how long DPS refuses every request (10)");
  app.add_option("--trickle-load", o.trickle_load, "trickle: arrivals at this share of the quota (0.9)")
      ->check(CLI::Range(0.01, 10.0));
  app.add_option("--assigning-retry-after", o.assigning_retry_after, "Retry-After of the emulator's 202 (1)");
  app.add_option("--assigning-polls", o.assigning_polls, "polls the emulator answers `assigning` (0)");
  app.add_option("--naive-interval", o.naive_interval, "the naive client's retry interval without Retry-After (3)");
  app.add_option("--latency-ms", o.latency_ms, "simulated: one request's round trip (20)");
  app.add_option("--seed", o.seed, "trickle arrivals and simulated jitter (1)");
  app.add_option("--runs", o.runs, "simulated: average over this many runs with successive seeds (1)");
  app.add_option("--transport", o.transport, "real: https or mqtt (default https)")->check(CLI::IsMember({"https", "mqtt"}));
  app.add_option("--patience", o.patience, "real: seconds past the floor before a device counts as failed (600)");
  app.add_option("--keep", o.keep, "real: copy the devices' configurations and logs, and the emulator's, here");
  app.add_option("--throttle-spread", o.throttle_spread,
                 "simulated, what-if: edgeprov's spread after a Retry-After, seconds (edgeprovd: 60)");
  app.add_option("--max-delay", o.max_delay, "simulated, what-if: edgeprov's longest backoff, seconds (edgeprovd: 300)");
  app.add_flag("--json", o.json, "print one JSON object instead of a table");
  app.add_option("--svg", o.svg, "write the picture of requests per minute to this file");
  CLI11_PARSE(app, argc, argv);
  spdlog::set_level(spdlog::level::warn);  // the emulator's reply builders log nothing we need here

  if (o.mode == "real" && (o.throttle_spread || o.max_delay)) {
    fmt::print(stderr, "bench_fleet: --throttle-spread and --max-delay change the simulated devices only; edgeprovd "
                       "always runs its own policy, so they cannot be used with --mode real\n");
    return 2;
  }
  const Scenario scenario = *parse_scenario(o.scenario);
  if (o.devices == 0) o.devices = o.mode == "real" ? 200 : 100'000;
  const FleetSpec spec = spec_of(o, scenario);

  std::optional<RealRun> real;
  if (o.mode == "real") {
    RealOptions options;
    options.transport = o.transport;
    options.patience = std::chrono::seconds(o.patience);
    if (!o.keep.empty()) options.keep = o.keep;
    options.progress = [](const std::string& line) { fmt::print(stderr, "bench_fleet: {}\n", line); };
    real = run_real(spec, options);
  }
  // The simulated twin of a real run starts each device as late as the real processes sent their first
  // request, and takes as long per request as they logged.
  FleetSpec simulated = spec;
  if (real) {
    simulated.start_delay = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(real->start_lag_seconds));
    simulated.request_latency =
        std::chrono::duration_cast<Duration>(std::chrono::duration<double, std::milli>(real->round_trip_ms));
  }
  const auto edge = simulate_runs(simulated, Client::edgeprov, o);
  const auto naive = simulate_runs(simulated, Client::naive, o);
  const std::optional<Figures> real_figures = real ? std::optional(figures(spec, real->run)) : std::nullopt;

  if (!o.svg.empty()) {
    std::vector<ChartLine> lines;
    if (real) lines.push_back({"edgeprov (real processes)", "#1f5fbf", &real->run, real_figures->converged_seconds});
    lines.push_back({"edgeprov (simulated)", real ? "#7fa7e0" : "#1f5fbf", &edge.first, figures(spec, edge.first).converged_seconds});
    lines.push_back({"naive fixed retry (simulated)", "#c0392b", &naive.first, figures(spec, naive.first).converged_seconds});
    std::ofstream out(o.svg);
    out << svg_chart(spec, lines,
                     fmt::format("{}: {} devices, quota {} per {} s{}", o.scenario, spec.devices, spec.registrations.limit,
                                 spec.registrations.window.count(), real ? ", " + o.transport : std::string()));
  }
  if (o.json) {
    nlohmann::json j = to_json(real ? *real_figures : edge.figures);
    j["mode"] = o.mode;
    j["scenario"] = o.scenario;
    if (real) {
      j["transport"] = o.transport;
      j["simulated"] = to_json(edge.figures);
      j["real"] = {{"start_lag_seconds", real->start_lag_seconds},
                   {"round_trip_ms", real->round_trip_ms},
                   {"handling_ms", real->handling_ms},
                   {"log_requests", real->log_requests},
                   {"emulator_stats", real->emulator_stats},
                   {"peak_load_average", real->peak_load_average}};
    }
    j["naive"] = to_json(naive.figures);
    j["load_average"] = load_average();
    std::cout << j.dump() << "\n";
  } else {
    fmt::print("{} scenario, {} devices, quota {} per {} s ({}{}); load average {}\n", o.scenario, spec.devices,
               spec.registrations.limit, spec.registrations.window.count(), o.mode,
               real ? ", " + o.transport : std::string(), load_average());
    std::vector<std::pair<std::string, Figures>> rows;
    if (real) rows.emplace_back("edgeprov (real)", *real_figures);
    rows.emplace_back(o.runs > 1 ? fmt::format("edgeprov (sim., {} runs)", o.runs) : "edgeprov (simulated)", edge.figures);
    rows.emplace_back(o.runs > 1 ? fmt::format("naive (sim., {} runs)", o.runs) : "naive (simulated)", naive.figures);
    fmt::print("{}", table(rows));
    if (real)
      fmt::print("real: first request {:.2f} s after a device's start, round trip {:.0f} ms, the emulator's handling "
                 "{:.2f} ms (medians); {} requests in its log; load average up to {:.1f}\n",
                 real->start_lag_seconds, real->round_trip_ms, real->handling_ms, real->log_requests,
                 real->peak_load_average);
  }
  return 0;
}
