#include "bench/fleet/simulation.h"

#include <deque>
#include <map>
#include <tuple>
#include <functional>
#include <queue>
#include <random>

#include <fmt/format.h>

#include "edge-config/config.h"
#include "service/provisioner.h"
#include "service/provisioning_machine.h"

namespace edgeprov::fleet {

namespace pm = service::provisioning;
using emulator::Outcome;
using emulator::RequestKind;

std::string_view to_string(Client client) { return client == Client::edgeprov ? "edgeprov" : "naive"; }

void Traffic::add(Duration at, RequestKind kind, Outcome outcome) {
  const auto second = static_cast<std::size_t>(std::max<std::int64_t>(
      0, std::chrono::duration_cast<std::chrono::seconds>(at).count()));
  if (second >= counts_.size()) counts_.resize(second + 1);
  ++counts_[second][static_cast<std::size_t>(kind) * 3 + static_cast<std::size_t>(outcome)];
}

std::uint32_t Traffic::at(std::size_t second, RequestKind kind, Outcome outcome) const {
  if (second >= counts_.size()) return 0;
  return counts_[second][static_cast<std::size_t>(kind) * 3 + static_cast<std::size_t>(outcome)];
}

namespace {

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

enum class EventKind : std::uint8_t { start, timer, request };

struct Event {
  Duration at;
  std::uint64_t sequence;  // ties in time keep the order they were scheduled in
  std::uint32_t device;
  EventKind kind;
  RequestKind request = RequestKind::register_device;
  std::uint64_t timer_id = 0;
  bool operator>(const Event& other) const {
    return at != other.at ? at > other.at : sequence > other.sequence;
  }
};

std::string registration_id(std::size_t index) { return fmt::format("fleet-{:06}", index + 1); }

// What edgeprovd's configuration gives the machine for a symmetric-key device of this fleet.
pm::Settings edgeprov_settings(const dps::BackoffPolicy& backoff) {
  config::Config config;
  config.provisioning.global_endpoint = "https://localhost/";
  config.provisioning.id_scope = simulated_id_scope;
  config.provisioning.attestation.method = dps::AttestationMethod::symmetric_key;
  config.provisioning.attestation.registration_id = "fleet";
  pm::Settings settings = service::machine_settings(config);
  settings.backoff = backoff;
  return settings;
}

class Simulation {
 public:
  Simulation(const FleetSpec& spec, Client client, std::uint64_t seed, const SimulationOptions& options)
      : spec_(spec),
        client_(client),
        options_(options),
        random_(seed),
        dps_(spec, steady_origin(), wall_origin()),
        ids_(spec.devices),
        records_(spec.devices) {
    const auto arrivals = arrival_times(spec);
    for (std::size_t i = 0; i < spec.devices; ++i) {
      ids_[i] = registration_id(i);
      records_[i].started = arrivals[i];
      schedule({.at = arrivals[i] + spec.start_delay, .sequence = 0, .device = static_cast<std::uint32_t>(i),
                .kind = EventKind::start});
    }
    if (client == Client::edgeprov) {
      const pm::Model initial = pm::initial_model(edgeprov_settings(options.backoff), wall(Duration{}));
      edgeprov_.assign(spec.devices, EdgeprovDevice{initial, {}});
    } else {
      naive_.resize(spec.devices);
    }
    give_up_at_ = std::chrono::duration_cast<Duration>(floor_time(spec) * options.give_up_after_floors) +
                  std::chrono::hours(1);
  }

  FleetRun run() {
    const auto started = std::chrono::steady_clock::now();
    while (!queue_.empty()) {
      const Event event = queue_.top();
      if (event.at > give_up_at_) break;
      queue_.pop();
      ended_ = event.at;
      if (client_ == Client::edgeprov) {
        on_edgeprov(event);
      } else {
        on_naive(event);
      }
    }
    for (auto& r : records_)
      if (!r.provisioned) r.failed = true;
    FleetRun result{std::move(records_), std::move(traffic_), ended_, 0};
    result.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
  }

 private:
  struct EdgeprovDevice {
    pm::Model model;
    AttemptState attempt;
  };
  struct NaiveDevice {
    unsigned polls = 0;  // of the operation in progress
  };

  static emulator::AdmissionTime steady_origin() { return emulator::AdmissionTime{} + std::chrono::hours(24); }
  static SystemTime wall_origin() { return *parse_rfc3339("2026-06-01T00:00:00Z"); }
  static SystemTime wall(Duration at) {
    return wall_origin() + std::chrono::duration_cast<std::chrono::system_clock::duration>(at);
  }

  void schedule(Event event) {
    event.sequence = ++sequence_;
    queue_.push(event);
  }

  // A request reaches DPS: judged and counted as the emulator does.
  Verdict send(std::uint32_t device, RequestKind kind, Duration at) {
    Verdict verdict = dps_.judge(ids_[device], kind, at);
    traffic_.add(at, kind, verdict.outcome);
    auto& r = records_[device];
    ++(kind == RequestKind::register_device ? r.registers : r.polls);
    if (verdict.outcome == Outcome::throttled) ++r.throttled;
    if (verdict.outcome == Outcome::refused) ++r.refused;
    return verdict;
  }

  // ---- edgeprov: the provisioning machine, as service::Provisioner drives it ---------------------------

  void on_edgeprov(const Event& event) {
    switch (event.kind) {
      case EventKind::start: return dispatch(event.device, pm::Start{}, event.at);
      case EventKind::timer: return dispatch(event.device, pm::TimerFired{event.timer_id}, event.at);
      case EventKind::request: return on_edgeprov_request(event);
    }
  }

  void on_edgeprov_request(const Event& event) {
    auto& device = edgeprov_[event.device];
    const Verdict verdict = send(event.device, event.request, event.at);
    const Duration back = event.at + spec_.request_latency;
    AttemptStep step = next_step(device.attempt, reply_to(event, verdict), status_of(verdict), wall(back));
    if (auto* poll = std::get_if<PollAfter>(&step)) {
      schedule({.at = back + poll->wait, .sequence = 0, .device = event.device, .kind = EventKind::request,
                .request = RequestKind::operation_status});
      return;
    }
    dispatch(event.device, pm::AttemptFinished{std::move(std::get<AttemptOver>(step).outcome)}, back);
  }

  static int status_of(const Verdict& verdict) {
    return verdict.throttled ? 429 : verdict.outage ? 503 : 200;  // 200 or 202: next_step reads only errors' status
  }

  // The emulator's answer as the attempt reads it. A 429 or 503 is the same for every device but for its
  // tracking id and timestamp, which the parser does not read: it is built and parsed once per Retry-After.
  dps::Reply reply_to(const Event& event, const Verdict& verdict) {
    auto& device = edgeprov_[event.device];
    const unsigned polls_before = device.attempt.polls_answered;
    auto build = [&] {
      return read_reply(dps_.answer(verdict, event.request, ids_[event.device], polls_before, event.at), device.attempt);
    };
    if (verdict.outcome == Outcome::accepted) {
      if (event.request == RequestKind::operation_status) ++device.attempt.polls_answered;
      return build();
    }
    const ReplyKey key{status_of(verdict), verdict.retry_after().value_or(std::chrono::seconds(-1)).count(),
                       verdict.throttled ? static_cast<int>(verdict.throttled->quota) : -1,
                       verdict.outage ? verdict.outage->id : 0};
    auto it = rejections_.find(key);
    if (it == rejections_.end()) it = rejections_.emplace(key, build()).first;
    return it->second;
  }

  // Feeds one event to the machine and carries out its effects; like Provisioner::dispatch, events raised
  // by an effect (the identity, read at once: a configured symmetric key) wait for the step to finish.
  void dispatch(std::uint32_t index, pm::Event first, Duration at) {
    auto& device = edgeprov_[index];
    std::deque<pm::Event> pending{std::move(first)};
    while (!pending.empty()) {
      const pm::Moment moment{steady_origin() + at, wall(at), unit_(random_)};
      auto step = pm::transition(device.model, pending.front(), moment);
      pending.pop_front();
      device.model = std::move(step.model);
      for (const auto& effect : step.effects) {
        std::visit(Overloaded{
                       [&](const pm::ReadIdentity&) { pending.push_back(pm::IdentityRead{ids_[index], {}, {}}); },
                       [&](const pm::StartAttempt& start) {
                         device.attempt = AttemptState{.registration_id = start.registration_id};
                         schedule({.at = at, .sequence = 0, .device = index, .kind = EventKind::request,
                                   .request = RequestKind::register_device});
                       },
                       [&](const pm::ArmTimer& arm) {
                         const Duration fire = arm.timer.at - steady_origin();
                         schedule({.at = fire, .sequence = 0, .device = index, .kind = EventKind::timer,
                                   .timer_id = arm.timer.id});
                       },
                       [](const auto&) {},  // persisting, logging, answering callers: nothing to model
                   },
                   effect);
      }
    }
    if (std::holds_alternative<pm::Provisioned>(device.model.phase) && !records_[index].provisioned) {
      records_[index].provisioned = at;
    } else if (std::holds_alternative<pm::Failed>(device.model.phase)) {
      records_[index].failed = true;
    }
  }

  // ---- the naive client ----------------------------------------------------------------------------------

  void on_naive(const Event& event) {
    auto& device = naive_[event.device];
    if (event.kind == EventKind::start) {
      schedule({.at = event.at, .sequence = 0, .device = event.device, .kind = EventKind::request,
                .request = RequestKind::register_device});
      return;
    }
    const Verdict verdict = send(event.device, event.request, event.at);
    const Duration back = event.at + spec_.request_latency;
    if (verdict.outcome != Outcome::accepted) {  // the same request again
      schedule({.at = back + naive_wait(options_.naive, verdict.retry_after()), .sequence = 0, .device = event.device,
                .kind = EventKind::request, .request = event.request});
      return;
    }
    const bool assigned = event.request == RequestKind::operation_status && device.polls > spec_.assigning_polls;
    if (assigned) {
      records_[event.device].provisioned = back;
      return;
    }
    if (event.request == RequestKind::register_device) device.polls = 0;
    ++device.polls;
    schedule({.at = back + naive_wait(options_.naive, spec_.assigning_retry_after), .sequence = 0,
              .device = event.device, .kind = EventKind::request, .request = RequestKind::operation_status});
  }

  FleetSpec spec_;
  Client client_;
  SimulationOptions options_;
  std::mt19937_64 random_;
  std::uniform_real_distribution<double> unit_{0.0, 1.0};
  SimulatedDps dps_;
  std::vector<std::string> ids_;
  std::vector<DeviceRecord> records_;
  std::vector<EdgeprovDevice> edgeprov_;
  std::vector<NaiveDevice> naive_;
  Traffic traffic_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  using ReplyKey = std::tuple<int, std::int64_t, int, std::uint64_t>;  // status, Retry-After, quota, outage
  std::map<ReplyKey, dps::Reply> rejections_;
  std::uint64_t sequence_ = 0;
  Duration give_up_at_{};
  Duration ended_{};
};

}  // namespace

FleetRun simulate(const FleetSpec& spec, Client client, std::uint64_t seed, const SimulationOptions& options) {
  return Simulation(spec, client, seed, options).run();
}

}  // namespace edgeprov::fleet
