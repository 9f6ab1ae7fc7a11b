// ctl/commands.h — how edgeprovctl's subcommands plug into its command line (CLI11). Each subcommand
// lives in its own file, registers its options, and sets the runner main() calls after parsing.
#pragma once
#include <functional>
#include <string>

namespace CLI {
class App;
}

namespace edgeprov::ctl {

struct GlobalOptions {
  std::string endpoint;     // --endpoint; empty = from --config, else the platform default
  std::string config_file;  // --config; empty = the platform default
  bool json = false;        // --json: print the raw RPC result
};

using Runner = std::function<int()>;  // returns the process exit code (ctl/exit_codes.h)

void add_status_command(CLI::App& app, const GlobalOptions& global, Runner& run);
void add_version_command(CLI::App& app, const GlobalOptions& global, Runner& run);
void add_logs_command(CLI::App& app, const GlobalOptions& global, Runner& run);
void add_init_command(CLI::App& app, const GlobalOptions& global, Runner& run);
void add_tpm_command(CLI::App& app, const GlobalOptions& global, Runner& run);
void add_reprovision_command(CLI::App& app, const GlobalOptions& global, Runner& run);
void add_wait_command(CLI::App& app, const GlobalOptions& global, Runner& run);
void add_identity_command(CLI::App& app, const GlobalOptions& global, Runner& run);
void add_check_command(CLI::App& app, const GlobalOptions& global, Runner& run);

}  // namespace edgeprov::ctl
