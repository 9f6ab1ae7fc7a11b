// The fleet simulation is honest: bench_fleet --mode real starts a small fleet of real edgeprovd processes
// against dps-emulator with a quota they must queue for, then simulates the same fleet (the provisioning
// machine on a virtual clock) a few hundred times; the two must agree on how long the fleet took and how
// often it was throttled. A small fleet on a short quota window (30 devices, 10 registrations per 10 s),
// so that it takes about a minute and a quarter of real time.
#include <cmath>
#include <iostream>
#include <string>

#include <catch2/catch_test_macros.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"

using namespace edgeprov;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// Within 10 % of the simulated mean — or, where one simulated run differs from the next by more than that
// (the last device of a small fleet is a matter of a few random draws), within what the simulated runs
// themselves spanned. One real run is one sample; the simulation gives the distribution it must fall in.
void check_agrees(const json& real, const json& simulated, const std::string& figure) {
  const double r = real.at(figure).get<double>();
  const double mean = simulated.at(figure).get<double>();
  const auto range = simulated.at(figure + "_range");
  const double low = std::min(0.9 * mean, range.at(0).get<double>());
  const double high = std::max(1.1 * mean, range.at(1).get<double>());
  INFO(fmt::format("{}: real {:.3f}, simulated mean {:.3f} over {} runs (from {:.3f} to {:.3f}); accepted from "
                   "{:.3f} to {:.3f}; difference {:+.1f} %",
                   figure, r, mean, simulated.at("runs").get<int>(), range.at(0).get<double>(),
                   range.at(1).get<double>(), low, high, mean > 0 ? 100 * (r - mean) / mean : 0.0));
  std::cout << "figure: " << figure << " real " << r << ", simulated " << mean << "\n";
  CHECK(r >= low);
  CHECK(r <= high);
}

}  // namespace

TEST_CASE("a small rollout of real edgeprovd processes converges and is throttled as its simulation says") {
  const auto run = test::run({.argv = {(test::bin_dir() / "bench_fleet").string(), "--mode", "real", "--json",
                                       "--scenario", "rollout", "--devices", "30", "--quota", "10",
                                       "--quota-window", "10", "--start-spread", "10", "--runs", "200",
                                       "--patience", "240"}},
                             10min);
  INFO(run.output);
  REQUIRE(run.status.exited());
  REQUIRE(run.status.code == 0);
  // The figures are one line of JSON on stdout; the progress lines on stderr come before it.
  const auto line = run.output.rfind("\n{");
  REQUIRE(line != std::string::npos);
  const json figures = json::parse(run.output.substr(line + 1), nullptr, false);
  REQUIRE(figures.is_object());
  const json& simulated = figures.at("simulated");

  // Every device provisioned, in both; the measurement itself is sound: every request the emulator counted
  // is in its log, and the throttled ones are the devices' throttled requests.
  CHECK(figures.at("failed") == 0);
  CHECK(simulated.at("failed") == 0);
  const json& stats = figures.at("real").at("emulator_stats");
  CHECK(figures.at("real").at("log_requests") == stats.at("requests").at("total"));
  CHECK(std::lround(figures.at("throttled_per_device_mean").get<double>() * 30) ==
        stats.at("requests").at("throttled").get<long>());
  // The fleet had to queue: more devices than one window lets through.
  CHECK(stats.at("register").at("throttled").get<long>() > 0);

  check_agrees(figures, simulated, "converged_seconds");
  check_agrees(figures, simulated, "throttled_per_device_mean");
}
