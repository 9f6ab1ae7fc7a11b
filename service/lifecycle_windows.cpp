// edgeprovd on Windows: the SCM service (the default), or a console process with --console.
// The SCM is told RUNNING only once the named pipe listens, and STOPPED with the exit code.
#include "service/lifecycle.h"

#include <windows.h>
#include <sddl.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/win_eventlog_sink.h>
#include <spdlog/spdlog.h>

#include "ipc/windows_text.h"
#include "service/daemon.h"

namespace edgeprov::service {

namespace {

constexpr wchar_t service_name[] = L"edgeprovd";
constexpr char event_source[] = "edgeprovd";
constexpr DWORD start_wait_hint_ms = 10'000;
constexpr DWORD stop_wait_hint_ms = 10'000;

// Where the daemon reports its progress: the SCM, or nothing for a console process.
struct Host {
  virtual ~Host() = default;
  virtual void starting() {}                // one more START_PENDING checkpoint
  virtual void running() {}                 // the pipe listens
  virtual void attach(Daemon*) {}           // the daemon the stop requests go to (nullptr: none)
  virtual std::vector<spdlog::sink_ptr> sinks() = 0;
  virtual void report_early_error(const std::string& message) = 0;  // before logging is set up
};

// [edgeprov.ipc] identity_principals: each name (a user or a group, "NAME" or "DOMAIN\\NAME") resolved to
// its SID once, here. A name Windows does not know is a configuration error, never silently ignored.
ipc::AdminPolicy admin_policy(const config::Config& config) {
  ipc::AdminPolicy policy;
  const std::string key = "edgeprov.ipc.identity_principals";
  for (const auto& name : config.ipc.identity_principals) {
    const std::wstring wide = ipc::detail::to_wide(name);
    DWORD sid_size = 0;
    DWORD domain_size = 0;
    SID_NAME_USE use{};
    ::LookupAccountNameW(nullptr, wide.c_str(), nullptr, &sid_size, nullptr, &domain_size, &use);
    DWORD error = ::GetLastError();
    std::vector<unsigned char> sid;
    if (error == ERROR_INSUFFICIENT_BUFFER) {
      sid.resize(sid_size);
      std::wstring domain(domain_size, L'\0');
      error = ::LookupAccountNameW(nullptr, wide.c_str(), sid.data(), &sid_size, domain.data(), &domain_size, &use)
                  ? ERROR_SUCCESS
                  : ::GetLastError();
    }
    if (error == ERROR_NONE_MAPPED)
      throw config::ConfigError(config.source_file, std::nullopt, key,
                                "\"" + name + "\" is neither a user nor a group Windows knows",
                                "create the account, write it as DOMAIN\\NAME, or remove it from the list");
    if (error != ERROR_SUCCESS)
      throw config::ConfigError(config.source_file, std::nullopt, key,
                                "cannot look up \"" + name + "\": " + ipc::detail::win32_message(error),
                                "check that the account exists and its domain can be reached, or remove it from the list");
    wchar_t* text = nullptr;
    if (!::ConvertSidToStringSidW(sid.data(), &text))
      throw config::ConfigError(config.source_file, std::nullopt, key,
                                "cannot read the SID of \"" + name + "\": " + ipc::detail::win32_message(::GetLastError()),
                                "remove it from the list");
    policy.identity_sids.push_back(ipc::detail::to_utf8(text));
    ::LocalFree(text);
  }
  return policy;
}

// The part shared by the SCM and the console: configuration, logging, the daemon.
int serve(const LaunchOptions& options, Host& host) {
  const auto file = options.config_file.empty() ? config::defaults().config_file : options.config_file;
  std::optional<config::Config> config;
  ipc::AdminPolicy policy;
  try {
    config = config::load(file);
    policy = admin_policy(*config);
  } catch (const config::ConfigError& e) {
    host.report_early_error(e.what());
    return exit_code::config;
  }
  host.starting();

  std::optional<Logging> logging;
  try {
    logging.emplace(config->log, host.sinks());
  } catch (const std::exception& e) {
    host.report_early_error(std::string("edgeprovd: ") + e.what());
    return exit_code::config;
  }
  host.starting();

  Daemon daemon(std::move(*config), *logging, std::move(policy));
  try {
    daemon.start();
  } catch (const std::exception& e) {
    spdlog::critical("cannot start: {}", e.what());
    return exit_code::failure;
  }
  host.attach(&daemon);
  host.running();
  daemon.run();
  host.attach(nullptr);
  return exit_code::ok;
}

// ---- the SCM service ----

class ScmHost final : public Host {
 public:
  void begin(SERVICE_STATUS_HANDLE handle) {
    handle_ = handle;
    report(SERVICE_START_PENDING, start_wait_hint_ms);
  }
  void starting() override { report(SERVICE_START_PENDING, start_wait_hint_ms); }
  void running() override { report(SERVICE_RUNNING, 0); }
  void attach(Daemon* daemon) override { daemon_.store(daemon); }
  std::vector<spdlog::sink_ptr> sinks() override {
    return {std::make_shared<spdlog::sinks::win_eventlog_sink_mt>(event_source)};
  }
  void report_early_error(const std::string& message) override {
    spdlog::logger("edgeprovd", std::make_shared<spdlog::sinks::win_eventlog_sink_mt>(event_source))
        .error(message);
  }

  void stop_requested() {
    report(SERVICE_STOP_PENDING, stop_wait_hint_ms);
    if (Daemon* daemon = daemon_.load()) daemon->request_stop();
  }
  void stopped(int code) {
    std::lock_guard lock(mutex_);
    status_.dwCurrentState = SERVICE_STOPPED;
    status_.dwControlsAccepted = 0;
    status_.dwWin32ExitCode = code == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
    status_.dwServiceSpecificExitCode = static_cast<DWORD>(code);
    status_.dwCheckPoint = 0;
    status_.dwWaitHint = 0;
    ::SetServiceStatus(handle_, &status_);
  }

 private:
  void report(DWORD state, DWORD wait_hint_ms) {
    std::lock_guard lock(mutex_);
    status_.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    status_.dwCurrentState = state;
    // Controls are accepted only while running: before, there is no daemon to stop; after, it is stopping.
    status_.dwControlsAccepted = state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_PRESHUTDOWN : 0;
    status_.dwWin32ExitCode = NO_ERROR;
    status_.dwServiceSpecificExitCode = 0;
    status_.dwCheckPoint = state == SERVICE_RUNNING ? 0 : ++checkpoint_;
    status_.dwWaitHint = wait_hint_ms;
    ::SetServiceStatus(handle_, &status_);
  }

  SERVICE_STATUS_HANDLE handle_ = nullptr;
  std::mutex mutex_;  // the SCM handler thread and the service thread both report
  SERVICE_STATUS status_{};
  DWORD checkpoint_ = 0;
  std::atomic<Daemon*> daemon_{nullptr};
};

// The SCM's callbacks carry no context of ours except the handler's, so ServiceMain finds these here.
LaunchOptions scm_options;
ScmHost scm_host;
int scm_exit_code = exit_code::ok;

DWORD WINAPI control_handler(DWORD control, DWORD, LPVOID, LPVOID context) {
  auto* host = static_cast<ScmHost*>(context);
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
    case SERVICE_CONTROL_PRESHUTDOWN:
      host->stop_requested();
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;  // the SCM keeps the last reported status
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

void WINAPI service_main(DWORD, LPWSTR*) {
  const SERVICE_STATUS_HANDLE handle = ::RegisterServiceCtrlHandlerExW(service_name, control_handler, &scm_host);
  if (!handle) {
    scm_exit_code = exit_code::failure;
    return;
  }
  scm_host.begin(handle);
  try {
    scm_exit_code = serve(scm_options, scm_host);
  } catch (const std::exception& e) {
    scm_host.report_early_error(std::string("edgeprovd stopped: ") + e.what());
    scm_exit_code = exit_code::failure;
  }
  scm_host.stopped(scm_exit_code);
}

int run_under_scm(const LaunchOptions& options) {
  scm_options = options;
  SERVICE_TABLE_ENTRYW table[] = {{const_cast<LPWSTR>(service_name), service_main}, {nullptr, nullptr}};
  if (!::StartServiceCtrlDispatcherW(table)) {
    const DWORD error = ::GetLastError();
    if (error == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
      std::fprintf(stderr,
                   "edgeprovd runs as a Windows service: start it with `Start-Service edgeprovd`, or run it "
                   "in this console with `edgeprovd --console [--config FILE]`\n");
      return exit_code::usage;
    }
    std::fprintf(stderr, "edgeprovd: cannot connect to the Service Control Manager (error %lu)\n", error);
    return exit_code::failure;
  }
  return scm_exit_code;
}

// ---- the console ----

class ConsoleHost final : public Host {
 public:
  void attach(Daemon* daemon) override { daemon_.store(daemon); }
  std::vector<spdlog::sink_ptr> sinks() override {
    return {std::make_shared<spdlog::sinks::stderr_color_sink_mt>()};
  }
  void report_early_error(const std::string& message) override { std::fprintf(stderr, "%s\n", message.c_str()); }
  bool stop_requested() {
    Daemon* daemon = daemon_.load();
    if (daemon) daemon->request_stop();
    return daemon != nullptr;
  }

 private:
  std::atomic<Daemon*> daemon_{nullptr};
};

ConsoleHost console_host;

// Runs on a thread the system creates for the event: hand the stop to the daemon's I/O thread.
BOOL WINAPI console_handler(DWORD event) {
  switch (event) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      return console_host.stop_requested() ? TRUE : FALSE;
    default:
      return FALSE;
  }
}

int run_in_console(const LaunchOptions& options) {
  ::SetConsoleCtrlHandler(console_handler, TRUE);
  const int code = serve(options, console_host);
  ::SetConsoleCtrlHandler(console_handler, FALSE);
  return code;
}

}  // namespace

void add_platform_options(CLI::App& app, LaunchOptions& options) {
  app.add_flag("--console", options.console,
               "run in this console (Ctrl+C stops) instead of as the service started by the SCM");
}

std::uint64_t current_pid() { return ::GetCurrentProcessId(); }

int run(const LaunchOptions& options) {
  return options.console ? run_in_console(options) : run_under_scm(options);
}

}  // namespace edgeprov::service
