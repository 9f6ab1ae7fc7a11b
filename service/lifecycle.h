// service/lifecycle.h — how edgeprovd lives under its platform's service manager. lifecycle_posix.cpp:
// a foreground process for systemd or a shell (SIGTERM/SIGINT, sd_notify, journald or the console).
// lifecycle_windows.cpp: the SCM service, or a console process with --console (Event Log or the console).
// Nothing outside these two leaves knows which platform it runs on.
#pragma once
#include <cstdint>
#include <filesystem>

namespace CLI {
class App;
}

namespace edgeprov::service {

struct LaunchOptions {
  std::filesystem::path config_file;  // empty: the platform default (config::defaults())
  bool console = false;               // Windows: run in this console instead of under the SCM
};

// Adds the options only one platform has (Windows: --console).
void add_platform_options(CLI::App& app, LaunchOptions& options);

// Loads the configuration, sets up logging, runs the daemon until it is told to stop, and returns the
// process exit code (service/daemon.h exit_code).
int run(const LaunchOptions& options);

std::uint64_t current_pid();

}  // namespace edgeprov::service
