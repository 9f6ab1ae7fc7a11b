// pipe_probe.exe PIPE : exercises a running edgeprovd's named pipe the way hostile and busy clients do,
// with raw Win32 calls (not edgeprov's own client), and prints one "ok:" or "FAILED:" line per check.
// Run under Wine by tests/windows/scenarios/named-pipe.sh against `edgeprovd.exe --console`.
// Exit code: 0 when every check passed, 1 otherwise, 2 on bad usage.
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <latch>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

std::wstring pipe_name;
int failures = 0;

void report(bool ok, const std::string& what) {
  std::printf("%s: %s\n", ok ? "ok" : "FAILED", what.c_str());
  std::fflush(stdout);
  if (!ok) ++failures;
}

// A client connection, opened with exactly the access docs/ipc-api.md tells clients to ask for.
class Pipe {
 public:
  Pipe() {
    for (int attempt = 0; attempt < 100; ++attempt) {
      handle_ = ::CreateFileW(pipe_name.c_str(), GENERIC_READ | FILE_WRITE_DATA, 0, nullptr, OPEN_EXISTING,
                              SECURITY_SQOS_PRESENT | SECURITY_IDENTIFICATION, nullptr);
      if (handle_ != INVALID_HANDLE_VALUE) return;
      error_ = ::GetLastError();
      if (error_ != ERROR_PIPE_BUSY) return;
      ::WaitNamedPipeW(pipe_name.c_str(), 5000);  // every instance taken: wait for the next one
    }
  }
  ~Pipe() {
    if (open()) ::CloseHandle(handle_);
  }
  Pipe(const Pipe&) = delete;
  Pipe& operator=(const Pipe&) = delete;

  bool open() const { return handle_ != INVALID_HANDLE_VALUE; }
  DWORD error() const { return error_; }
  HANDLE handle() const { return handle_; }

  // Writes in chunks; false once the server stops taking bytes (it closed the connection).
  bool write(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      const DWORD chunk = static_cast<DWORD>(std::min<std::size_t>(bytes.size() - done, 4096));
      DWORD written = 0;
      if (!::WriteFile(handle_, bytes.data() + done, chunk, &written, nullptr)) return false;
      done += written;
    }
    return true;
  }

  // The next line, or nothing when the server closed the connection first.
  std::optional<std::string> read_line() {
    for (;;) {
      if (const auto end = buffer_.find('\n'); end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
      }
      char chunk[4096];
      DWORD got = 0;
      if (!::ReadFile(handle_, chunk, sizeof chunk, &got, nullptr) || got == 0) return std::nullopt;
      buffer_.append(chunk, got);
    }
  }

  std::optional<nlohmann::json> read_json() {
    auto line = read_line();
    if (!line) return std::nullopt;
    auto value = nlohmann::json::parse(*line, nullptr, false);
    if (value.is_discarded()) return std::nullopt;
    return value;
  }

 private:
  HANDLE handle_ = INVALID_HANDLE_VALUE;
  DWORD error_ = 0;
  std::string buffer_;
};

std::string request(int id, const char* method) {
  return nlohmann::json{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}}.dump() + "\n";
}

bool is_status_answer(const std::optional<nlohmann::json>& answer, int id) {
  return answer && answer->value("id", -1) == id && answer->contains("result") &&
         (*answer)["result"].value("state", std::string()) != "";
}

int error_code_of(const std::optional<nlohmann::json>& answer) {
  if (!answer || !answer->contains("error")) return 0;
  return (*answer)["error"].value("code", 0);
}

void check_round_trip() {
  Pipe pipe;
  if (!pipe.open()) return report(false, "a client connects (error " + std::to_string(pipe.error()) + ")");
  pipe.write(request(1, "status"));
  const auto answer = pipe.read_json();
  report(is_status_answer(answer, 1), "status answered with a state: " + (answer ? answer->dump() : "nothing"));
}

void check_pipelined() {
  Pipe pipe;
  std::string batch;
  constexpr int count = 40;
  for (int id = 1; id <= count; ++id) batch += request(id, id % 2 ? "status" : "version");
  pipe.write(batch);  // one write: the server sees many requests in one read
  int in_order = 0;
  for (int id = 1; id <= count; ++id) {
    const auto answer = pipe.read_json();
    const bool ok = id % 2 ? is_status_answer(answer, id)
                           : answer && answer->value("id", -1) == id && (*answer)["result"].contains("version");
    if (ok) ++in_order;
  }
  report(in_order == count, std::to_string(count) + " pipelined requests on one connection answered in order (" +
                                std::to_string(in_order) + " right)");
}

void check_concurrent() {
  constexpr int clients = 64;
  std::latch all_connected(clients);
  std::atomic<int> answered{0}, connected{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back([&, i] {
      Pipe pipe;
      if (pipe.open()) ++connected;
      all_connected.arrive_and_wait();  // every client holds its connection before any asks
      if (!pipe.open()) return;
      pipe.write(request(1000 + i, "status"));
      if (is_status_answer(pipe.read_json(), 1000 + i)) ++answered;
    });
  }
  for (auto& t : threads) t.join();
  report(connected == clients && answered == clients,
         std::to_string(clients) + " concurrent clients connected (" + std::to_string(connected.load()) +
             ") and each got its own answer (" + std::to_string(answered.load()) + ")");
}

void check_oversized() {
  Pipe pipe;
  pipe.write(std::string(70'000, 'x') + "\n");  // over the 65,536-byte line limit; may fail midway
  const auto answer = pipe.read_json();
  report(error_code_of(answer) == -32002 && (*answer)["id"].is_null(),
         "an oversized line is answered with -32002 and id null: " + (answer ? answer->dump() : "nothing"));
  report(!pipe.read_line(), "and the connection is closed after it");
  Pipe after;
  after.write(request(7, "status"));
  report(is_status_answer(after.read_json(), 7), "the next client is served normally");
}

void check_garbage() {
  Pipe pipe;
  pipe.write("this is not JSON\n");
  const auto parse_error = pipe.read_json();
  report(error_code_of(parse_error) == -32700, "a line of garbage is answered with -32700: " +
                                                   (parse_error ? parse_error->dump() : "nothing"));
  pipe.write(std::string("{\"jsonrpc\":\"2.0\",\"id\":\"\xff\xfe\",\"method\":\"status\"}\n"));
  const auto utf8_error = pipe.read_json();
  report(error_code_of(utf8_error) != 0, "invalid UTF-8 is answered with an error: " +
                                             (utf8_error ? utf8_error->dump() : "nothing"));
  pipe.write("[1,2,3]\n");
  report(error_code_of(pipe.read_json()) == -32600, "a batch array is answered with -32600");
  pipe.write(request(9, "status"));
  report(is_status_answer(pipe.read_json(), 9), "the same connection still answers a good request after those");
}

void check_idle() {
  Pipe silent;                       // connects and never writes
  Pipe half;                         // writes half a request and stops
  half.write("{\"jsonrpc\":\"2.0\",\"id\":5,");
  Pipe other;
  other.write(request(6, "status"));
  report(silent.open() && half.open() && is_status_answer(other.read_json(), 6),
         "an idle client and a half-sent request do not hold up another client");
  half.write("\"method\":\"status\"}\n");
  report(is_status_answer(half.read_json(), 5), "the half-sent request is answered once it is complete");
}

// Admission control as far as Wine shows it: every Wine process has an administrator's token, so this
// caller is limited only by max_connections (`max`), the limit no caller passes. Holds `max` connections,
// each answered; the next one is refused with -32003 naming the limit and the caller, and closed; once one
// is closed, a new connection is served.
void check_admission(int max) {
  std::vector<std::unique_ptr<Pipe>> held;
  for (int i = 1; i <= max; ++i) {
    auto pipe = std::make_unique<Pipe>();
    if (pipe->open()) pipe->write(request(i, "status"));
    if (!pipe->open() || !is_status_answer(pipe->read_json(), i)) {
      return report(false, "connection " + std::to_string(i) + " of " + std::to_string(max) + " is served");
    }
    held.push_back(std::move(pipe));
  }
  report(true, std::to_string(max) + " connections held, each served");

  Pipe refused;  // the server answers at once, before any request, then closes
  const auto answer = refused.open() ? refused.read_json() : std::nullopt;
  const nlohmann::json data = answer && answer->contains("error") ? (*answer)["error"].value("data", nlohmann::json())
                                                                  : nlohmann::json();
  report(error_code_of(answer) == -32003 && data.value("limit", "") == "connections" &&
             data.value("value", 0) == max && !data.value("caller", std::string()).empty(),
         "the next one is refused with -32003, limit connections, its value and the caller: " +
             (answer ? answer->dump() : "nothing"));
  report(!refused.read_line(), "and closed");

  held.pop_back();  // the server sees the close when its read of that pipe fails
  bool served = false;
  // Bounded: each try is answered at once, refused until the server has counted the close.
  for (int attempt = 0; attempt < 200 && !served; ++attempt) {
    Pipe after;
    if (!after.open()) break;
    after.write(request(99, "status"));
    served = is_status_answer(after.read_json(), 99);
  }
  report(served, "once one of them is closed, a new connection is served");
}

// The DACL as the pipe reports it to a client, in SDDL.
void print_dacl() {
  Pipe pipe;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  const DWORD code = ::GetSecurityInfo(pipe.handle(), SE_KERNEL_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr,
                                       nullptr, nullptr, &descriptor);
  wchar_t* sddl = nullptr;
  if (code == ERROR_SUCCESS &&
      ::ConvertSecurityDescriptorToStringSecurityDescriptorW(descriptor, SDDL_REVISION_1, DACL_SECURITY_INFORMATION,
                                                             &sddl, nullptr)) {
    std::printf("dacl: %ls\n", sddl);
    ::LocalFree(sddl);
  } else {
    report(false, "the pipe's DACL can be read (error " + std::to_string(code ? code : ::GetLastError()) + ")");
  }
  if (descriptor) ::LocalFree(descriptor);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && !(argc == 4 && std::string(argv[2]) == "--admission")) {
    std::fprintf(stderr, "usage: pipe_probe.exe \\\\.\\pipe\\NAME [--admission MAX_CONNECTIONS]\n");
    return 2;
  }
  const std::string name = argv[1];  // pipe names are ASCII
  pipe_name.assign(name.begin(), name.end());
  if (argc == 4) {
    check_admission(std::atoi(argv[3]));
    return failures == 0 ? 0 : 1;
  }
  check_round_trip();
  check_pipelined();
  check_concurrent();
  check_oversized();
  check_garbage();
  check_idle();
  print_dacl();
  return failures == 0 ? 0 : 1;
}
