// tests/support/process.h — real child processes for integration tests (swtpm, dps-emulator,
// edgeprovd, edgeprovctl): spawn with arguments, capture output to a file, stop on destruction.
// Also free loopback ports and waiting helpers. Tests only; never linked into the product.
#pragma once
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace edgeprov::test {

struct ProcessOptions {
  std::vector<std::string> argv;                  // argv[0] is looked up on PATH unless it has a '/'
  std::map<std::string, std::string> env;         // added to (or replacing in) the parent's environment
  std::optional<std::filesystem::path> log_file;  // stdout+stderr; default: a file in temp_dir(), removed with
                                                  // the Process (EDGEPROV_TEST_KEEP_LOGS=1 keeps it)
  std::optional<std::string> run_as_user;         // drop to this user (root only), e.g. "nobody"
  std::optional<std::string> stdin_text;          // written to the child's stdin, then closed
};

struct ExitStatus {
  int code = -1;    // exit code when exited normally
  int signal = 0;   // terminating signal, 0 when exited normally
  bool exited() const { return signal == 0 && code >= 0; }
};

class Process {
 public:
  explicit Process(ProcessOptions options);
  ~Process();  // SIGTERM, then SIGKILL after 5 s if still running; removes a default log file
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  int pid() const { return pid_; }
  bool running();
  void signal(int sig);
  // Waits for exit; std::nullopt on timeout (the process keeps running).
  std::optional<ExitStatus> wait(std::chrono::milliseconds timeout);
  ExitStatus stop(std::chrono::milliseconds grace = std::chrono::seconds(5));  // SIGTERM then SIGKILL
  std::string output() const;  // everything captured so far
  // Waits until the captured output contains `needle` (woken by each write to the log, not polling);
  // false on timeout or when the process exits without writing it.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout);
  const std::filesystem::path& log_file() const { return log_file_; }

 private:
  int pid_ = -1;
  std::optional<ExitStatus> status_;
  std::filesystem::path log_file_;
  bool owns_log_file_ = false;
};

struct RunResult {
  ExitStatus status;
  std::string output;  // stdout+stderr interleaved
};
// Runs a command to completion (killed after `timeout`); for CLI checks (edgeprovctl, tpm2-tools, openssl).
RunResult run(ProcessOptions options, std::chrono::milliseconds timeout = std::chrono::seconds(60));

// A loopback TCP port nobody listens on right now (bind to 127.0.0.1:0 and release it).
unsigned short free_loopback_port();
// `count` distinct free ports at once (e.g. swtpm's server and control ports).
std::vector<unsigned short> free_loopback_ports(std::size_t count);
// A free port P whose neighbour P+1 is free too (swtpm: server on P, control on P+1).
unsigned short free_loopback_port_pair();
bool wait_for_tcp(const std::string& host, unsigned short port, std::chrono::milliseconds timeout);
bool wait_for_path(const std::filesystem::path& path, std::chrono::milliseconds timeout);

// A fresh directory under $TMPDIR removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

std::filesystem::path bin_dir();    // where edgeprovd, edgeprovctl, dps-emulator are built
std::filesystem::path source_dir();
std::string read_file(const std::filesystem::path& path);
void write_file(const std::filesystem::path& path, const std::string& content);

}  // namespace edgeprov::test
