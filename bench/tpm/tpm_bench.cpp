// bench_tpm — time per TPM operation on swtpm and the TPM commands each one sends.
// Usage: bench_tpm [iterations-scale]   (default 1; figures are printed, never judged)
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "tests/integration/tpm/dps_blob.h"
#include "tests/support/process.h"
#include "tests/support/swtpm.h"
#include "tpm/device.h"

using namespace edgeprov;
using Clock = std::chrono::steady_clock;

namespace {

tpm::Options options_for(const test::Swtpm& swtpm) {
  tpm::Options o;
  o.tcti = swtpm.tcti();
  return o;
}

void report(const std::string& what, std::vector<double> ms) {
  std::sort(ms.begin(), ms.end());
  double sum = 0;
  for (double v : ms) sum += v;
  const auto at = [&](double q) { return ms[std::min(ms.size() - 1, static_cast<std::size_t>(q * ms.size()))]; };
  fmt::print("{:<44} n={:<4} mean {:8.2f} ms  median {:8.2f}  p95 {:8.2f}  min {:8.2f}  max {:8.2f}\n", what,
             ms.size(), sum / ms.size(), at(0.5), at(0.95), ms.front(), ms.back());
}

std::vector<double> time_n(int n, const std::function<void()>& f) {
  std::vector<double> out;
  for (int i = 0; i < n; ++i) {
    const auto t0 = Clock::now();
    f();
    out.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  return out;
}

void print_commands(const std::string& what, const std::vector<tpm::Device::CommandRecord>& log) {
  std::map<std::string, std::pair<int, double>> by_name;
  double total = 0;
  for (const auto& r : log) {
    auto& e = by_name[tpm::command_name(r.code)];
    ++e.first;
    e.second += static_cast<double>(r.elapsed.count()) / 1000.0;
    total += static_cast<double>(r.elapsed.count()) / 1000.0;
  }
  fmt::print("{}: {} TPM commands, {:.2f} ms inside the TPM\n", what, log.size(), total);
  for (const auto& r : log) fmt::print("    {:<20} {:8.2f} ms\n", tpm::command_name(r.code), r.elapsed.count() / 1000.0);
}

Bytes readpublic(test::Swtpm& swtpm, const std::string& handle, const test::TempDir& dir) {
  const auto file = dir / ("pub-" + handle);
  const auto r = swtpm.tpm2({"tpm2_readpublic", "-c", handle, "-o", file.string()});
  if (r.status.code != 0) throw std::runtime_error("tpm2_readpublic: " + r.output);
  return to_bytes(test::read_file(file));
}

}  // namespace

int main(int argc, char** argv) {
  const int scale = argc > 1 ? std::max(1, std::atoi(argv[1])) : 1;
  fmt::print("edgeprov TPM benchmark on swtpm (loopback TCP, swtpm TCTI), scale {}\n\n", scale);

  // Creating the EK and SRK: a fresh TPM each time, so both primaries are derived and persisted.
  {
    std::vector<double> create, connect_ms;
    std::vector<tpm::Device::CommandRecord> first_log;
    for (int i = 0; i < 5 * scale; ++i) {
      test::Swtpm swtpm;
      const auto t0 = Clock::now();
      tpm::Device device(options_for(swtpm));
      const auto t1 = Clock::now();
      device.clear_command_log();
      device.keys();
      const auto t2 = Clock::now();
      connect_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      create.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
      if (i == 0) first_log = device.command_log();
    }
    report("connect (TCTI + ESAPI + GetCapability)", connect_ms);
    report("create + persist EK and SRK (keys())", create);
    print_commands("create EK and SRK", first_log);
  }

  test::Swtpm swtpm;
  test::TempDir dir;
  { tpm::Device(options_for(swtpm)).keys(); }
  const Bytes ek = readpublic(swtpm, "0x81010001", dir), srk = readpublic(swtpm, "0x81000001", dir);
  const auto blob = test::build_dps_blob(ek, srk, dir.path());

  {
    const auto fresh = time_n(20 * scale, [&] { tpm::Device(options_for(swtpm)).keys(); });
    report("read EK/SRK on a new connection", fresh);
    tpm::Device device(options_for(swtpm));
    device.keys();
    const auto warm = time_n(100 * scale, [&] { device.keys(); });
    report("read EK/SRK (persisted, connection open)", warm);
  }

  tpm::Device device(options_for(swtpm));
  device.clear_command_log();
  device.import_auth_key(blob.blob);
  print_commands("first import on a connection (EK/SRK looked up, no previous key)", device.command_log());
  device.clear_command_log();
  device.import_auth_key(blob.blob);
  print_commands("import replacing the key", device.command_log());
  report("import_auth_key (replacing the key)", time_n(50 * scale, [&] { device.import_auth_key(blob.blob); }));

  const Bytes short_data = to_bytes("0ne00000000%2Fregistrations%2Fdevice-1\n1700000000");
  const Bytes long_data(4096, 0x61);
  const tpm::PersistedKey persisted;
  report("sign 51 bytes (TPM2_HMAC)", time_n(200 * scale, [&] { device.sign(persisted, short_data); }));
  report("sign 4096 bytes (HMAC sequence)", time_n(50 * scale, [&] { device.sign(persisted, long_data); }));
  device.clear_command_log();
  device.sign(persisted, long_data);
  print_commands("sign 4096 bytes", device.command_log());

  // A registration's challenge key: loaded as a transient object, signing, then made persistent.
  device.clear_command_log();
  device.load_key(blob.blob);
  print_commands("load_key (transient; flushes the one loaded before)", device.command_log());
  report("load_key (transient)", time_n(50 * scale, [&] { device.load_key(blob.blob); }));
  const auto transient = device.load_key(blob.blob);
  report("sign 51 bytes with the transient key", time_n(200 * scale, [&] { device.sign(transient, short_data); }));
  device.clear_command_log();
  device.persist_key(transient);
  print_commands("persist_key (replacing the persisted key)", device.command_log());
  fmt::print("\ncommands sent on the last connection: {}\n", device.commands_sent());
  return 0;
}
