#include "bench/fleet/scenario.h"

#include <algorithm>
#include <random>

namespace edgeprov::fleet {

std::string_view to_string(Scenario scenario) {
  switch (scenario) {
    case Scenario::rollout: return "rollout";
    case Scenario::outage: return "outage";
    case Scenario::trickle: return "trickle";
  }
  return "?";
}

std::optional<Scenario> parse_scenario(std::string_view text) {
  for (auto s : {Scenario::rollout, Scenario::outage, Scenario::trickle})
    if (text == to_string(s)) return s;
  return std::nullopt;
}

double seconds(Duration d) { return std::chrono::duration<double>(d).count(); }

double quota_per_minute(const FleetSpec& spec) {
  return spec.registrations.limit * 60.0 / static_cast<double>(spec.registrations.window.count());
}

std::vector<Duration> arrival_times(const FleetSpec& spec) {
  std::vector<Duration> at(spec.devices);
  if (spec.scenario == Scenario::trickle) {
    // A Poisson process: exponential gaps with mean window ÷ (load × limit).
    std::mt19937_64 random(spec.seed ^ 0x7472696b6c65ULL);
    const double rate = spec.trickle_load * spec.registrations.limit /
                        std::chrono::duration<double>(spec.registrations.window).count();
    std::exponential_distribution<double> gap(rate);
    double t = 0;
    for (auto& a : at) {
      a = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(t));
      t += gap(random);
    }
    return at;
  }
  for (std::size_t i = 0; i < spec.devices; ++i)
    at[i] = spec.start_spread * static_cast<std::int64_t>(i) / static_cast<std::int64_t>(spec.devices);
  return at;
}

Duration floor_time(const FleetSpec& spec) {
  const auto per_quota = std::chrono::duration_cast<Duration>(
      std::chrono::duration<double>(static_cast<double>(spec.devices) / spec.registrations.limit *
                                    static_cast<double>(spec.registrations.window.count())));
  switch (spec.scenario) {
    case Scenario::rollout: return per_quota;
    case Scenario::outage: return spec.outage_length + per_quota;
    case Scenario::trickle: {
      const auto arrivals = arrival_times(spec);
      return std::max(per_quota, arrivals.empty() ? Duration{} : arrivals.back());
    }
  }
  return per_quota;
}

}  // namespace edgeprov::fleet
