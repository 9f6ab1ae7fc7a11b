// ctl/exit_codes.h — edgeprovctl's exit codes: part of the documented contract (docs/ipc-api.md);
// scripts depend on them, so values never change.
#pragma once

namespace edgeprov::ctl::exit_code {
inline constexpr int ok = 0;                 // done; for `status`: provisioned
inline constexpr int failure = 1;            // any other failure (message on stderr)
inline constexpr int usage = 2;              // bad command line
inline constexpr int not_provisioned = 3;    // `status`/`wait`: the service runs but is not provisioned
inline constexpr int unreachable = 4;        // no service at the endpoint (hint how to start it)
inline constexpr int unauthorized = 5;       // the caller's OS identity may not do this
inline constexpr int config_error = 6;       // the configuration file is invalid (`init`, and commands reading it)
inline constexpr int tpm_error = 7;          // the TPM could not be used
inline constexpr int timeout = 8;            // `wait`/`reprovision --timeout` ran out
inline constexpr int exists = 9;             // `init`: the config exists and --force was not given
inline constexpr int check_warnings = 10;    // `check`: warnings, no error
inline constexpr int check_errors = 11;      // `check`: at least one error
}  // namespace edgeprov::ctl::exit_code
