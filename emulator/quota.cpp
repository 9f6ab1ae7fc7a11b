#include "emulator/quota.h"

#include <algorithm>
#include <charconv>

namespace edgeprov::emulator {

namespace {

std::optional<std::uint64_t> whole_number(std::string_view text) {
  std::uint64_t value = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// `wait` rounded up to whole seconds, at least 1: a client told "0" would come straight back.
std::chrono::seconds whole_seconds_up(AdmissionClock::duration wait) {
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(wait);
  if (seconds < wait) ++seconds;
  return std::max(seconds, std::chrono::seconds(1));
}

}  // namespace

std::optional<RateLimit> parse_rate_limit(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::string_view window = text.substr(slash + 1);
  if (!window.empty() && window.back() == 's') window.remove_suffix(1);
  auto limit = whole_number(text.substr(0, slash));
  auto seconds = whole_number(window);
  if (!limit || !seconds || *limit < 1 || *limit > max_rate_limit || *seconds < 1 ||
      *seconds > static_cast<std::uint64_t>(max_rate_window.count()))
    return std::nullopt;
  return RateLimit{static_cast<std::uint32_t>(*limit), std::chrono::seconds(*seconds)};
}

std::string to_string(const RateLimit& limit) {
  return std::to_string(limit.limit) + "/" + std::to_string(limit.window.count());
}

std::string to_string(QuotaKind kind) { return kind == QuotaKind::registrations ? "registrations" : "pollsPerDevice"; }

// ---------------------------------------------------------------- SlidingWindowLog

void SlidingWindowLog::expire(std::chrono::seconds window, AdmissionTime now) {
  // An entry at t is inside the window at `now` while t > now - window: it leaves exactly at t + window.
  while (head_ < times_.size() && times_[head_] + window <= now) ++head_;
  if (head_ == times_.size()) {
    times_.clear();
    head_ = 0;
  } else if (head_ >= 32 && head_ * 2 >= times_.size()) {
    times_.erase(times_.begin(), times_.begin() + static_cast<std::ptrdiff_t>(head_));
    head_ = 0;
  }
}

std::size_t SlidingWindowLog::count(const RateLimit& limit, AdmissionTime now) const {
  auto first = std::upper_bound(times_.begin() + static_cast<std::ptrdiff_t>(head_), times_.end(), now - limit.window);
  return static_cast<std::size_t>(times_.end() - first);
}

std::optional<AdmissionTime> SlidingWindowLog::admit(const RateLimit& limit, AdmissionTime now) {
  expire(limit.window, now);
  const std::size_t live = times_.size() - head_;
  if (live >= limit.limit) {
    // Fewer than `limit` remain once the entry `limit` places from the newest has left (after a limit was
    // lowered, more than `limit` entries can be live).
    return times_[times_.size() - limit.limit] + limit.window;
  }
  // Callers pass non-decreasing times; an earlier one (another thread's clock read) still goes in order.
  times_.insert(std::upper_bound(times_.begin() + static_cast<std::ptrdiff_t>(head_), times_.end(), now), now);
  return std::nullopt;
}

// ---------------------------------------------------------------- QuotaModel

QuotaModel::QuotaModel(QuotaSettings settings) : settings_(settings) {}

void QuotaModel::set_settings(const QuotaSettings& settings) {
  if (!settings.registrations) registrations_ = {};
  if (!settings.polls_per_device) {
    polls_.clear();
    sweep_at_ = 1024;
  }
  settings_ = settings;
}

Admission QuotaModel::admit(std::string_view device, RequestKind kind, AdmissionTime now) {
  const bool registering = kind == RequestKind::register_device;
  const std::optional<RateLimit>& limit = registering ? settings_.registrations : settings_.polls_per_device;
  if (!limit) return Admitted{};
  std::optional<AdmissionTime> admitted_from;
  if (registering) {
    admitted_from = registrations_.admit(*limit, now);
  } else {
    if (polls_.size() >= sweep_at_) forget_idle_devices(now);
    auto it = polls_.find(std::string(device));
    if (it == polls_.end()) it = polls_.emplace(std::string(device), SlidingWindowLog{}).first;
    admitted_from = it->second.admit(*limit, now);
  }
  if (!admitted_from) return Admitted{};
  return Throttled{registering ? QuotaKind::registrations : QuotaKind::polls_per_device, *limit, *admitted_from,
                   whole_seconds_up(*admitted_from - now)};
}

std::size_t QuotaModel::registrations_in_window(AdmissionTime now) const {
  return settings_.registrations ? registrations_.count(*settings_.registrations, now) : 0;
}

void QuotaModel::forget_idle_devices(AdmissionTime now) {
  std::erase_if(polls_, [&](const auto& entry) { return entry.second.idle(*settings_.polls_per_device, now); });
  sweep_at_ = std::max<std::size_t>(1024, polls_.size() * 2);
}

}  // namespace edgeprov::emulator
