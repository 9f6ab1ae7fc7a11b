// edgeprovd on Windows: the SCM service (the default), or a console process with --console; and the
// `install` / `uninstall` subcommands that register it with the SCM and the Event Log.
// The SCM is told RUNNING only once the named pipe listens, and STOPPED with the exit code.
#include "service/lifecycle.h"

#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/win_eventlog_sink.h>
#include <spdlog/spdlog.h>

#include "ipc/windows_text.h"
#include "service/daemon.h"

namespace edgeprov::service {

namespace {

// The service is "edgeprov" (`Start-Service edgeprov`, `sc query edgeprov`); its program and its Event
// Log source are "edgeprovd".
constexpr wchar_t service_name[] = L"edgeprov";
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
                   "edgeprovd runs as a Windows service: start it with `Start-Service edgeprov` once "
                   "`edgeprovd install` has registered it, or run it in this console with "
                   "`edgeprovd --console [--config FILE]`\n");
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


// ---- install / uninstall: the SCM registration, the Event Log source, %ProgramData%\edgeprov ----

constexpr wchar_t display_name[] = L"edgeprov";
constexpr wchar_t description[] =
    L"Provisions this device through the Azure Device Provisioning Service with its TPM and answers "
    L"edgeprovctl on \\\\.\\pipe\\edgeprov.";
constexpr wchar_t event_log_key[] = L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\edgeprovd";
// Restart after 5 s, 30 s, then every 60 s; a day without failure resets the count.
constexpr DWORD recovery_delays_ms[] = {5'000, 30'000, 60'000};
constexpr DWORD recovery_reset_seconds = 24 * 60 * 60;
// %ProgramData%\edgeprov, protected from what ProgramData passes down (which lets every user create
// files there): SYSTEM and Administrators full control, Users read and list only — edgeprovctl reads
// config.toml for the endpoint. Files and folders created inside inherit it (OICI).
constexpr wchar_t data_dir_sddl[] = L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)";

std::string utf8(std::wstring_view wide) {
  if (wide.empty()) return {};
  const int size = ::WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), nullptr, 0,
                                         nullptr, nullptr);
  std::string text(static_cast<std::size_t>(size > 0 ? size : 0), '\0');
  if (size > 0)
    ::WideCharToMultiByte(CP_UTF8, 0, wide.data(), static_cast<int>(wide.size()), text.data(), size, nullptr, nullptr);
  return text;
}

std::string error_text(DWORD code) {
  wchar_t* buffer = nullptr;
  const DWORD length = ::FormatMessageW(
      FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, nullptr, code, 0,
      reinterpret_cast<wchar_t*>(&buffer), 0, nullptr);
  std::string text = length ? utf8(std::wstring_view(buffer, length)) : std::string();
  if (buffer) ::LocalFree(buffer);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return "error " + std::to_string(code) + (text.empty() ? "" : ": " + text);
}

// A failed installation step: what failed, the Win32 error, and what to do.
struct InstallError : std::runtime_error {
  InstallError(const std::string& what, DWORD code, const std::string& fix = {})
      : std::runtime_error(what + " (" + error_text(code) + ")" + (fix.empty() ? "" : " — " + fix)), code(code) {}
  DWORD code;
};

std::string access_fix(DWORD code) {
  return code == ERROR_ACCESS_DENIED ? "run it from an elevated prompt (as Administrator)" : std::string();
}

struct ServiceHandleCloser {
  void operator()(SC_HANDLE handle) const { ::CloseServiceHandle(handle); }
};
using ServiceHandle = std::unique_ptr<std::remove_pointer_t<SC_HANDLE>, ServiceHandleCloser>;

ServiceHandle open_manager(DWORD access) {
  ServiceHandle manager(::OpenSCManagerW(nullptr, nullptr, access));
  if (!manager) {
    const DWORD code = ::GetLastError();
    throw InstallError("cannot open the Service Control Manager", code, access_fix(code));
  }
  return manager;
}

std::wstring quoted(const std::wstring& text) { return L"\"" + text + L"\""; }

std::filesystem::path own_executable() {
  std::wstring path(MAX_PATH, L'\0');
  for (;;) {
    const DWORD n = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    if (n == 0) throw InstallError("cannot read the path of edgeprovd.exe", ::GetLastError());
    if (n < path.size()) {
      path.resize(n);
      return path;
    }
    path.resize(path.size() * 2);
  }
}

void change_config2(SC_HANDLE service, DWORD level, void* info, const char* what) {
  if (::ChangeServiceConfig2W(service, level, info)) return;
  const DWORD code = ::GetLastError();
  if (code == ERROR_INVALID_LEVEL) {
    // Every Windows since Vista knows these settings; a service manager that does not (Wine) still runs
    // the service, only without this refinement: say so and go on.
    std::fprintf(stderr, "edgeprovd install: warning: this service manager cannot set the service's %s (%s); "
                 "the service is installed without it\n", what, error_text(code).c_str());
    return;
  }
  throw InstallError(std::string("cannot set the service's ") + what, code);
}

// Creates the service, or brings an existing registration up to date (an upgrade runs install again).
void register_service(const std::wstring& command_line) {
  const ServiceHandle manager = open_manager(SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE);
  ServiceHandle service(::CreateServiceW(manager.get(), service_name, display_name, SERVICE_ALL_ACCESS,
                                         SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
                                         command_line.c_str(), nullptr, nullptr, nullptr,
                                         nullptr /* LocalSystem */, nullptr));
  if (!service) {
    const DWORD code = ::GetLastError();
    if (code != ERROR_SERVICE_EXISTS) throw InstallError("cannot create the service edgeprov", code, access_fix(code));
    service.reset(::OpenServiceW(manager.get(), service_name, SERVICE_ALL_ACCESS));
    if (!service) {
      const DWORD open_code = ::GetLastError();
      throw InstallError("cannot open the existing service edgeprov", open_code, access_fix(open_code));
    }
    if (!::ChangeServiceConfigW(service.get(), SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
                                command_line.c_str(), nullptr, nullptr, nullptr, L"LocalSystem", L"", display_name)) {
      throw InstallError("cannot update the existing service edgeprov", ::GetLastError());
    }
  }

  SERVICE_DESCRIPTIONW text{const_cast<LPWSTR>(description)};
  change_config2(service.get(), SERVICE_CONFIG_DESCRIPTION, &text, "description");
  // Delayed: the TPM and the network are more likely to be ready, and boot is not slowed down.
  SERVICE_DELAYED_AUTO_START_INFO delayed{TRUE};
  change_config2(service.get(), SERVICE_CONFIG_DELAYED_AUTO_START_INFO, &delayed, "delayed automatic start");
  SC_ACTION actions[std::size(recovery_delays_ms)];
  for (std::size_t i = 0; i < std::size(actions); ++i) actions[i] = {SC_ACTION_RESTART, recovery_delays_ms[i]};
  SERVICE_FAILURE_ACTIONSW failure{recovery_reset_seconds, nullptr, nullptr, static_cast<DWORD>(std::size(actions)),
                                   actions};
  change_config2(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS, &failure, "recovery actions");
  // Also recover when edgeprovd stops by itself with an error (a non-zero exit code), not only on a crash.
  SERVICE_FAILURE_ACTIONS_FLAG on_error_exit{TRUE};
  change_config2(service.get(), SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &on_error_exit, "recovery on error exit");
}

void register_event_source() {
  HKEY key = nullptr;
  LSTATUS status = ::RegCreateKeyExW(HKEY_LOCAL_MACHINE, event_log_key, 0, nullptr, REG_OPTION_NON_VOLATILE,
                                     KEY_SET_VALUE, nullptr, &key, nullptr);
  if (status != ERROR_SUCCESS)
    throw InstallError("cannot register the Event Log source edgeprovd", static_cast<DWORD>(status),
                       access_fix(static_cast<DWORD>(status)));
  // EventCreate.exe's message table maps IDs 1–1000 to the text itself ("%1"); edgeprovd logs with ID 1000
  // (spdlog's win_eventlog_sink), so Event Viewer and Get-WinEvent show the message, not "description not found".
  const std::wstring message_file = L"%SystemRoot%\\System32\\EventCreate.exe";
  const DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
  status = ::RegSetValueExW(key, L"EventMessageFile", 0, REG_EXPAND_SZ,
                            reinterpret_cast<const BYTE*>(message_file.c_str()),
                            static_cast<DWORD>((message_file.size() + 1) * sizeof(wchar_t)));
  if (status == ERROR_SUCCESS)
    status = ::RegSetValueExW(key, L"TypesSupported", 0, REG_DWORD, reinterpret_cast<const BYTE*>(&types),
                              sizeof(types));
  ::RegCloseKey(key);
  if (status != ERROR_SUCCESS)
    throw InstallError("cannot write the Event Log source edgeprovd", static_cast<DWORD>(status));
}

// Creates %ProgramData%\edgeprov (if needed) and gives it data_dir_sddl, replacing what it had.
void prepare_data_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    const auto code = static_cast<DWORD>(ec.value());
    throw InstallError("cannot create " + dir.string(), code, access_fix(code));
  }
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(data_dir_sddl, SDDL_REVISION_1, &descriptor, nullptr))
    throw InstallError("cannot build the access control list of " + dir.string(), ::GetLastError());
  std::unique_ptr<void, decltype(&::LocalFree)> owned(descriptor, &::LocalFree);
  BOOL present = FALSE, defaulted = FALSE;
  PACL dacl = nullptr;
  ::GetSecurityDescriptorDacl(descriptor, &present, &dacl, &defaulted);
  std::wstring path = dir.wstring();
  const DWORD code = ::SetNamedSecurityInfoW(path.data(), SE_FILE_OBJECT,
                                             DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                                             nullptr, nullptr, dacl, nullptr);
  if (code != ERROR_SUCCESS)
    throw InstallError("cannot set the access control list of " + dir.string(), code, access_fix(code));
}

int install_service(const LaunchOptions& options) {
  try {
    const std::filesystem::path executable = own_executable();
    std::wstring command_line = quoted(executable.wstring());
    if (!options.config_file.empty())
      command_line += L" --config " + quoted(std::filesystem::absolute(options.config_file).wstring());
    const std::filesystem::path data_dir = config::defaults().config_file.parent_path();
    prepare_data_dir(data_dir);
    register_event_source();
    register_service(command_line);
    std::printf("edgeprovd: installed the service edgeprov (%s), automatic (delayed) start as LocalSystem, "
                "restarted after 5 s, 30 s and 60 s on failure; data in %s.\n"
                "Next: `edgeprovctl init --scope-id <ID scope>`, then `Start-Service edgeprov`.\n",
                utf8(command_line).c_str(), data_dir.string().c_str());
    return exit_code::ok;
  } catch (const InstallError& e) {
    std::fprintf(stderr, "edgeprovd install: %s\n", e.what());
    return exit_code::failure;
  }
}

// Asks a running service to stop and waits for it (up to 30 s): DeleteService alone would leave it
// running until the next reboot.
void stop_and_wait(SC_HANDLE service) {
  SERVICE_STATUS status{};
  if (!::ControlService(service, SERVICE_CONTROL_STOP, &status)) {
    const DWORD code = ::GetLastError();
    if (code == ERROR_SERVICE_NOT_ACTIVE) return;
    if (code != ERROR_SERVICE_CANNOT_ACCEPT_CTRL) throw InstallError("cannot stop the service edgeprov", code);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!::QueryServiceStatus(service, &status)) throw InstallError("cannot query the service edgeprov", ::GetLastError());
    if (status.dwCurrentState == SERVICE_STOPPED) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  throw InstallError("the service edgeprov did not stop within 30 s", ERROR_TIMEOUT,
                     "stop it with `Stop-Service edgeprov -Force`, then run uninstall again");
}

int uninstall_service() {
  try {
    const ServiceHandle manager = open_manager(SC_MANAGER_CONNECT);
    ServiceHandle service(::OpenServiceW(manager.get(), service_name, SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE));
    if (service) {
      stop_and_wait(service.get());
      if (!::DeleteService(service.get()) && ::GetLastError() != ERROR_SERVICE_MARKED_FOR_DELETE)
        throw InstallError("cannot remove the service edgeprov", ::GetLastError());
    } else if (const DWORD code = ::GetLastError(); code != ERROR_SERVICE_DOES_NOT_EXIST) {
      throw InstallError("cannot open the service edgeprov", code, access_fix(code));
    }
    const LSTATUS status = ::RegDeleteKeyW(HKEY_LOCAL_MACHINE, event_log_key);
    if (status != ERROR_SUCCESS && status != ERROR_FILE_NOT_FOUND)
      throw InstallError("cannot remove the Event Log source edgeprovd", static_cast<DWORD>(status),
                         access_fix(static_cast<DWORD>(status)));
    std::printf("edgeprovd: the service edgeprov is removed. %s (configuration and state) is kept; delete it "
                "to remove this device's settings.\n",
                config::defaults().config_file.parent_path().string().c_str());
    return exit_code::ok;
  } catch (const InstallError& e) {
    std::fprintf(stderr, "edgeprovd uninstall: %s\n", e.what());
    return exit_code::failure;
  }
}

// The subcommands, found again by run() after parsing (CLI11 owns them).
CLI::App* install_command = nullptr;
CLI::App* uninstall_command = nullptr;

}  // namespace

void add_platform_options(CLI::App& app, LaunchOptions& options) {
  app.add_flag("--console", options.console,
               "run in this console (Ctrl+C stops) instead of as the service started by the SCM");
  install_command = app.add_subcommand(
      "install", "register the service edgeprov with the SCM (automatic delayed start, LocalSystem, restart on "
                 "failure) and the Event Log, and create %ProgramData%\\edgeprov; --config is kept for the service");
  uninstall_command = app.add_subcommand("uninstall", "stop and remove the service edgeprov and its Event Log source");
  app.fallthrough();  // `edgeprovd install --config FILE`
}

std::uint64_t current_pid() { return ::GetCurrentProcessId(); }

int run(const LaunchOptions& options) {
  if (install_command && install_command->parsed()) return install_service(options);
  if (uninstall_command && uninstall_command->parsed()) return uninstall_service();
  return options.console ? run_in_console(options) : run_under_scm(options);
}

}  // namespace edgeprov::service
