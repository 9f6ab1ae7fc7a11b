// tests/integration/ipc/ipc_hold.h — runs the ipc_hold helper (ipc_hold.cpp) as another user, so the
// server sees a real peer: held (it keeps what it took until released) or run to completion. The test
// target defines IPC_HOLD_PATH.
#pragma once
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include <catch2/catch_test_macros.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"

namespace edgeprov::test {

// ipc_hold ENDPOINT args… as `user`: its report line, and the process holding what it took.
class Held {
 public:
  Held(const std::string& user, const std::string& endpoint, std::vector<std::string> args) {
    args.insert(args.begin(), {IPC_HOLD_PATH, endpoint});
    process_ = std::make_unique<Process>(ProcessOptions{.argv = std::move(args), .run_as_user = user});
    // Its one line on stdout, once it has taken all it could (it writes nothing else unless it fails).
    const bool reported = process_->wait_for_output("\n", std::chrono::seconds(60));
    const std::string output = process_->output();
    INFO("ipc_hold as " << user << ": " << output);
    REQUIRE(reported);
    report_ = nlohmann::json::parse(output.substr(0, output.find('\n')));
  }
  const nlohmann::json& report() const { return report_; }
  void release() { process_.reset(); }  // SIGTERM: the kernel closes everything it held

 private:
  std::unique_ptr<Process> process_;
  nlohmann::json report_;
};

// ipc_hold ENDPOINT args… as `user`, to completion (flood, pipeline): its report line.
inline nlohmann::json run_hold(const std::string& user, const std::string& endpoint, std::vector<std::string> args) {
  args.insert(args.begin(), {IPC_HOLD_PATH, endpoint});
  const auto result = run({.argv = std::move(args), .run_as_user = user}, std::chrono::seconds(60));
  INFO("ipc_hold as " << user << ": " << result.output);
  REQUIRE(result.status.code == 0);
  return nlohmann::json::parse(result.output.substr(0, result.output.find('\n')));
}

}  // namespace edgeprov::test
