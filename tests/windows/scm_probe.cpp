// scm_probe.exe : reads back what `edgeprovd.exe install` registered, from the SCM and the registry, and
// prints it as "name: value" lines the scenario (tests/windows/scenarios/service.sh) checks from Linux.
//   scm_probe.exe config       the service's configuration (QueryServiceConfigW / QueryServiceConfig2W)
//   scm_probe.exe state        its current state (RUNNING, STOPPED, ...) or "absent"
//   scm_probe.exe dacl PATH    the DACL of a file or folder, in SDDL
// Exit code: 0, or 1 when something could not be read.
#include <windows.h>
#include <aclapi.h>
#include <sddl.h>

#include <cstdio>
#include <string>
#include <vector>

namespace {

constexpr wchar_t service_name[] = L"edgeprov";

std::vector<unsigned char> config2(SC_HANDLE service, DWORD level) {
  DWORD needed = 0;
  ::QueryServiceConfig2W(service, level, nullptr, 0, &needed);
  std::vector<unsigned char> buffer(needed ? needed : 1);
  if (!::QueryServiceConfig2W(service, level, buffer.data(), static_cast<DWORD>(buffer.size()), &needed)) {
    std::printf("config2-%lu-error: %lu\n", level, ::GetLastError());
    return {};
  }
  return buffer;
}

int print_config(SC_HANDLE service) {
  DWORD needed = 0;
  ::QueryServiceConfigW(service, nullptr, 0, &needed);
  std::vector<unsigned char> buffer(needed);
  auto* config = reinterpret_cast<QUERY_SERVICE_CONFIGW*>(buffer.data());
  if (!::QueryServiceConfigW(service, config, needed, &needed)) {
    std::printf("error: QueryServiceConfigW %lu\n", ::GetLastError());
    return 1;
  }
  std::printf("type: %lu\nstart: %lu\nbinary: %ls\naccount: %ls\ndisplay: %ls\n", config->dwServiceType,
              config->dwStartType, config->lpBinaryPathName, config->lpServiceStartName ? config->lpServiceStartName : L"",
              config->lpDisplayName);
  if (auto d = config2(service, SERVICE_CONFIG_DESCRIPTION); !d.empty()) {
    const auto* text = reinterpret_cast<SERVICE_DESCRIPTIONW*>(d.data());
    std::printf("description: %ls\n", text->lpDescription ? text->lpDescription : L"");
  }
  if (auto d = config2(service, SERVICE_CONFIG_DELAYED_AUTO_START_INFO); !d.empty())
    std::printf("delayed: %d\n", reinterpret_cast<SERVICE_DELAYED_AUTO_START_INFO*>(d.data())->fDelayedAutostart);
  if (auto d = config2(service, SERVICE_CONFIG_FAILURE_ACTIONS); !d.empty()) {
    const auto* failure = reinterpret_cast<SERVICE_FAILURE_ACTIONSW*>(d.data());
    std::printf("failure-reset: %lu\nfailure-actions:", failure->dwResetPeriod);
    for (DWORD i = 0; i < failure->cActions; ++i)
      std::printf(" %s/%lu", failure->lpsaActions[i].Type == SC_ACTION_RESTART ? "restart" : "other",
                  failure->lpsaActions[i].Delay);
    std::printf("\n");
  }
  if (auto d = config2(service, SERVICE_CONFIG_FAILURE_ACTIONS_FLAG); !d.empty())
    std::printf("failure-on-error-exit: %d\n", reinterpret_cast<SERVICE_FAILURE_ACTIONS_FLAG*>(d.data())->fFailureActionsOnNonCrashFailures);

  wchar_t message_file[512];
  DWORD size = sizeof message_file;
  const LSTATUS status = ::RegGetValueW(HKEY_LOCAL_MACHINE,
                                        L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\edgeprovd",
                                        L"EventMessageFile", RRF_RT_REG_EXPAND_SZ | RRF_NOEXPAND, nullptr,
                                        message_file, &size);
  std::printf("eventlog-source: %ls\n", status == ERROR_SUCCESS ? message_file : L"absent");
  return 0;
}

const char* state_name(DWORD state) {
  switch (state) {
    case SERVICE_STOPPED: return "STOPPED";
    case SERVICE_START_PENDING: return "START_PENDING";
    case SERVICE_STOP_PENDING: return "STOP_PENDING";
    case SERVICE_RUNNING: return "RUNNING";
    default: return "OTHER";
  }
}

int print_dacl(const wchar_t* path) {
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  const DWORD code = ::GetNamedSecurityInfoW(path, SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr, nullptr, nullptr,
                                             nullptr, &descriptor);
  wchar_t* sddl = nullptr;
  if (code != ERROR_SUCCESS || !::ConvertSecurityDescriptorToStringSecurityDescriptorW(
                                   descriptor, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &sddl, nullptr)) {
    std::printf("error: cannot read the DACL of %ls (%lu)\n", path, code ? code : ::GetLastError());
    return 1;
  }
  std::printf("dacl: %ls\n", sddl);
  ::LocalFree(sddl);
  ::LocalFree(descriptor);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "dacl" && argc == 3) {
    const std::string path = argv[2];
    return print_dacl(std::wstring(path.begin(), path.end()).c_str());
  }
  SC_HANDLE manager = ::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT);
  if (!manager) {
    std::printf("error: OpenSCManagerW %lu\n", ::GetLastError());
    return 1;
  }
  SC_HANDLE service = ::OpenServiceW(manager, service_name, SERVICE_QUERY_CONFIG | SERVICE_QUERY_STATUS);
  int code = 0;
  if (!service) {
    const DWORD error = ::GetLastError();
    if (error == ERROR_SERVICE_DOES_NOT_EXIST) {
      std::printf("state: absent\n");
      code = what == "state" ? 0 : 1;
    } else {
      std::printf("error: OpenServiceW %lu\n", error);
      code = 1;
    }
  } else if (what == "config") {
    code = print_config(service);
  } else if (what == "state") {
    SERVICE_STATUS status{};
    code = ::QueryServiceStatus(service, &status) ? 0 : 1;
    std::printf("state: %s\nexit: %lu/%lu\n", state_name(status.dwCurrentState), status.dwWin32ExitCode,
                status.dwServiceSpecificExitCode);
  } else {
    std::fprintf(stderr, "usage: scm_probe.exe config | state | dacl PATH\n");
    code = 2;
  }
  if (service) ::CloseServiceHandle(service);
  ::CloseServiceHandle(manager);
  return code;
}
