#include "emulator/outage.h"

#include <algorithm>

namespace edgeprov::emulator {

std::string to_string(OutageMode mode) { return mode == OutageMode::refuse ? "refuse" : "drop"; }

std::optional<OutageMode> parse_outage_mode(std::string_view text) {
  if (text == "refuse") return OutageMode::refuse;
  if (text == "drop") return OutageMode::drop;
  return std::nullopt;
}

const Outage& OutageSchedule::add(OutageMode mode, AdmissionTime start, AdmissionClock::duration length,
                                  std::optional<std::chrono::seconds> retry_after) {
  outages_.push_back(Outage{next_id_++, mode, start, start + length, retry_after});
  return outages_.back();
}

bool OutageSchedule::cancel(std::uint64_t id) {
  return std::erase_if(outages_, [id](const Outage& o) { return o.id == id; }) > 0;
}

std::optional<Outage> OutageSchedule::in_force(AdmissionTime now) const {
  const Outage* chosen = nullptr;
  for (const Outage& o : outages_) {
    if (now < o.start || now >= o.end) continue;
    if (!chosen) {
      chosen = &o;
    } else if (o.mode != chosen->mode) {
      if (o.mode == OutageMode::drop) chosen = &o;
    } else if (o.end > chosen->end) {
      chosen = &o;
    }
  }
  if (!chosen) return std::nullopt;
  return *chosen;
}

std::vector<Outage> OutageSchedule::pending(AdmissionTime now) {
  std::erase_if(outages_, [now](const Outage& o) { return o.end <= now; });
  std::vector<Outage> out = outages_;
  std::stable_sort(out.begin(), out.end(), [](const Outage& a, const Outage& b) { return a.start < b.start; });
  return out;
}

}  // namespace edgeprov::emulator
