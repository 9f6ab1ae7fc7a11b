#include "bench/fleet/real_fleet.h"

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include "common/crypto.h"
#include "common/encoding.h"
#include "common/secret.h"
#include "dps/sas.h"
#include "tests/support/notify.h"
#include "tests/support/process.h"
#include "tests/support/provisioning_world.h"
#include "tests/support/status_watch.h"

namespace edgeprov::fleet {

namespace fs = std::filesystem;
using nlohmann::json;
using emulator::Outcome;
using emulator::RequestKind;
using Steady = std::chrono::steady_clock;

namespace {

double load_average() {
  std::ifstream in("/proc/loadavg");
  double one = 0;
  in >> one;
  return one;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string device_id(std::size_t index) { return fmt::format("fleet-{:06}", index + 1); }

struct DeviceFiles {
  fs::path dir, config, socket, state, log, notify;
};

DeviceFiles files_of(const fs::path& root, std::size_t index) {
  const fs::path dir = root / fmt::format("d{:06}", index + 1);
  return {dir, dir / "config.toml", dir / "edgeprov.sock", dir / "state", dir / "edgeprovd.log", dir / "notify.sock"};
}

// `edgeprovctl init` as an operator runs it, the device key on stdin.
void init_device(const DeviceFiles& f, const test::DpsEmulator& emulator, const std::string& registration_id,
                 const Secret& device_key, const RealOptions& options) {
  fs::create_directories(f.state);
  std::vector<std::string> argv{(test::bin_dir() / "edgeprovctl").string(),
                                "--endpoint", f.socket.string(),
                                "--config", f.config.string(),
                                "init",
                                "--scope-id", test::world_id_scope,
                                "--global-endpoint", emulator.global_endpoint(),
                                "--trusted-ca", emulator.ca().string(),
                                "--state-dir", f.state.string(),
                                "--log-level", options.log_level,
                                "--attestation", "symmetric-key",
                                "--registration-id", registration_id,
                                "--symmetric-key", "-",
                                "--force"};
  if (options.transport == "mqtt")
    argv.insert(argv.end(), {"--transport", "mqtt", "--mqtt-port", std::to_string(emulator.mqtt_port())});
  const auto r = test::run({.argv = argv, .stdin_text = device_key.reveal() + "\n"}, std::chrono::seconds(60));
  if (!r.status.exited() || r.status.code != 0)
    throw std::runtime_error("edgeprovctl init for " + registration_id + " failed:\n" + r.output);
}

// What became of a request line of the emulator's log, as its counters count it.
std::optional<std::pair<RequestKind, Outcome>> classify(const test::EmulatorRequest& r) {
  // An MQTT CONNECT refused during an outage is the attempt's register request refused: the simulated
  // device sees a 503 where the real one is refused at CONNECT, and both wait as the backoff says.
  if (r.kind == "connect") {
    if (r.outcome.starts_with("refused")) return std::pair{RequestKind::register_device, Outcome::refused};
    return std::nullopt;
  }
  if (r.kind != "register" && r.kind != "status") return std::nullopt;
  const RequestKind kind = r.kind == "register" ? RequestKind::register_device : RequestKind::operation_status;
  if (r.outcome.starts_with("429")) return std::pair{kind, Outcome::throttled};
  if (r.outcome.starts_with("503") || r.outcome.find("(outage)") != std::string::npos)
    return std::pair{kind, Outcome::refused};
  return std::pair{kind, Outcome::accepted};
}

// "… 0.20ms" → 0.20
std::optional<double> handling_ms(const std::string& outcome) {
  const auto space = outcome.rfind(' ');
  std::string last = space == std::string::npos ? outcome : outcome.substr(space + 1);
  if (!last.ends_with("ms")) return std::nullopt;
  try {
    return std::stod(last.substr(0, last.size() - 2));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The round trips a device logged: "DPS HTTPS PUT … -> 202 (3 ms)", "DPS MQTT … -> 202 (4 ms)".
void round_trips(const fs::path& log, std::vector<double>& out) {
  std::ifstream in(log);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("DPS HTTPS") == std::string::npos && line.find("DPS MQTT") == std::string::npos) continue;
    const auto close = line.rfind(" ms)");
    const auto open = line.rfind('(', close);
    if (close == std::string::npos || open == std::string::npos) continue;
    try {
      out.push_back(std::stod(line.substr(open + 1, close - open - 1)));
    } catch (const std::exception&) {
    }
  }
}

}  // namespace

RealRun run_real(const FleetSpec& spec, const RealOptions& options) {
  auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  test::TempDir dir;
  RealRun result;

  // ---- DPS: the emulator with the scenario's quotas, and one symmetric-key enrollment group --------------
  std::vector<std::string> args{"--retry-after", std::to_string(spec.assigning_retry_after.count()),
                                "--assigning-polls", std::to_string(spec.assigning_polls),
                                "--log-level", "info", "--stats-interval", "0"};
  test::DpsEmulator emulator(dir.path() / "emulator", args);
  json quotas{{"registrations", emulator::to_string(spec.registrations)}};
  if (spec.polls_per_device) quotas["pollsPerDevice"] = emulator::to_string(*spec.polls_per_device);
  if (auto r = emulator.admin("PUT", "/quotas", quotas); r.status != 200)
    throw std::runtime_error(fmt::format("PUT /quotas {} answered {}: {}", quotas.dump(), r.status, r.body));
  const Secret group_key(base64_encode(random_bytes(32)));
  if (auto r = emulator.admin("PUT", "/enrollmentGroups/fleet",
                              {{"attestation", {{"type", "symmetricKey"}, {"symmetricKey", {{"primaryKey", group_key.reveal()}}}}},
                               {"capabilities", {{"iotEdge", true}}}});
      r.status / 100 != 2)
    throw std::runtime_error(fmt::format("PUT /enrollmentGroups/fleet answered {}: {}", r.status, r.body));

  // ---- the devices' files: what an operator's roll-out tooling writes ---------------------------------------
  const auto arrivals = arrival_times(spec);
  std::vector<DeviceFiles> files;
  for (std::size_t i = 0; i < spec.devices; ++i) {
    files.push_back(files_of(dir.path(), i));
    const auto key = dps::derive_group_device_key(group_key, device_id(i));
    if (!key) throw std::logic_error("the group key does not derive device keys");
    init_device(files.back(), emulator, device_id(i), *key, options);
  }
  say(fmt::format("{} devices configured in {}", spec.devices, dir.path().string()));

  // ---- t = 0 ------------------------------------------------------------------------------------------------
  if (spec.scenario == Scenario::outage) {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(spec.outage_length).count();
    if (auto r = emulator.admin("POST", "/outages", {{"durationSeconds", seconds}}); r.status != 201)
      throw std::runtime_error(fmt::format("POST /outages answered {}: {}", r.status, r.body));
  }
  if (auto r = emulator.admin("DELETE", "/stats"); r.status / 100 != 2)
    throw std::runtime_error(fmt::format("DELETE /stats answered {}: {}", r.status, r.body));
  const auto t0 = Steady::now();
  const SystemTime wall0 = std::chrono::system_clock::now();
  const auto deadline = t0 + floor_time(spec) + options.patience;
  auto since_t0 = [&] { return Steady::now() - t0; };

  std::vector<DeviceRecord> records(spec.devices);
  std::vector<std::unique_ptr<test::Process>> processes(spec.devices);
  std::vector<std::thread> watchers;
  std::atomic<std::size_t> done{0};
  std::mutex load_mutex;
  double peak_load = load_average();
  auto note_load = [&] {
    std::lock_guard lock(load_mutex);
    peak_load = std::max(peak_load, load_average());
  };

  for (std::size_t i = 0; i < spec.devices; ++i) {
    std::this_thread::sleep_until(t0 + arrivals[i]);  // the scenario's start schedule
    auto ready = std::make_unique<test::NotifySocket>(files[i].notify);
    records[i].started = since_t0();
    processes[i] = std::make_unique<test::Process>(test::ProcessOptions{
        .argv = {(test::bin_dir() / "edgeprovd").string(), "--config", files[i].config.string()},
        .env = {{"NOTIFY_SOCKET", ready->path().string()}},
        .log_file = files[i].log});
    // Each device followed by its own thread: READY=1 (its socket listens), then `subscribe` until it is
    // provisioned or failed; the moment its status says so is when it was.
    watchers.emplace_back([&, i, ready = std::move(ready)] {
      try {
        const auto left = [&] { return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Steady::now()); };
        if (!ready->wait_for("READY=1", std::min<std::chrono::milliseconds>(left(), std::chrono::minutes(2)))) {
          records[i].failed = true;
        } else {
          const json status = test::watch_status(
              files[i].socket,
              [](const json& s) {
                const auto state = s.value("state", "");
                return state == "provisioned" || state == "failed";
              },
              std::max(left(), std::chrono::milliseconds(1)), device_id(i) + " provisioned or failed");
          if (status.value("state", "") == "provisioned") {
            records[i].provisioned = since_t0();
          } else {
            records[i].failed = true;
          }
        }
      } catch (const std::exception&) {
        records[i].failed = true;  // not provisioned before the deadline (watch_status says which states it saw)
      }
      note_load();
      const std::size_t n = ++done;
      if (n % std::max<std::size_t>(1, spec.devices / 10) == 0)
        say(fmt::format("t = {:.0f} s: {} of {} devices provisioned or given up", seconds(since_t0()), n, spec.devices));
    });
    if ((i + 1) % std::max<std::size_t>(1, spec.devices / 4) == 0) {
      note_load();
      say(fmt::format("t = {:.0f} s: {} devices started", seconds(since_t0()), i + 1));
    }
  }
  for (auto& w : watchers) w.join();
  result.peak_load_average = peak_load;
  say(fmt::format("t = {:.0f} s: every device provisioned or given up; stopping them", seconds(since_t0())));

  for (auto& p : processes)
    if (p) p->signal(SIGTERM);
  processes.clear();

  // ---- what the emulator saw: its counters, and its log for the timeline and each device -------------------
  const auto stats = emulator.admin("GET", "/stats");
  result.emulator_stats = stats.json();
  std::map<std::string, std::size_t> index;
  for (std::size_t i = 0; i < spec.devices; ++i) index[device_id(i)] = i;
  std::vector<std::optional<Duration>> first_request(spec.devices);
  std::vector<double> handling;
  Duration last{};
  for (const auto& r : emulator.requests()) {
    if (r.at < wall0) continue;  // before t = 0 (there is nothing: DELETE /stats came after the enrollments)
    const auto it = index.find(r.registration_id);
    const auto what = classify(r);
    if (it == index.end() || !what) continue;
    const Duration at = std::chrono::duration_cast<Duration>(r.at - wall0);
    last = std::max(last, at);
    auto& d = records[it->second];
    result.run.traffic.add(at, what->first, what->second);
    ++(what->first == RequestKind::register_device ? d.registers : d.polls);
    if (what->second == Outcome::throttled) ++d.throttled;
    if (what->second == Outcome::refused) ++d.refused;
    if (!first_request[it->second]) first_request[it->second] = at;
    if (r.kind != "connect") {
      ++result.log_requests;
      if (auto ms = handling_ms(r.outcome)) handling.push_back(*ms);
    }
  }
  std::vector<double> lags;
  for (std::size_t i = 0; i < spec.devices; ++i)
    if (first_request[i]) lags.push_back(seconds(*first_request[i] - records[i].started));
  result.start_lag_seconds = median(lags);
  std::vector<double> trips;
  for (const auto& f : files) round_trips(f.log, trips);
  result.round_trip_ms = median(trips);
  result.handling_ms = median(handling);
  result.run.devices = std::move(records);
  result.run.ended = last;
  result.run.wall_seconds = seconds(since_t0());

  if (options.keep) {
    // Configurations and logs; not the sockets.
    for (const auto& entry : fs::recursive_directory_iterator(dir.path())) {
      if (!entry.is_regular_file()) continue;
      const fs::path to = *options.keep / fs::relative(entry.path(), dir.path());
      fs::create_directories(to.parent_path());
      fs::copy_file(entry.path(), to, fs::copy_options::overwrite_existing);
    }
  }
  return result;
}

}  // namespace edgeprov::fleet
