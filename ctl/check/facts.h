// ctl/check/facts.h — gathers what `edgeprovctl check` judges (ctl/check/checks.h): loads the
// configuration, asks edgeprovd, opens the TPM itself only when no service holds it, talks to DPS over the
// service's own HTTPS transport (same trust, same proxy), reads the persisted state, and the OS facts
// around them. It only reads: it never creates a key, writes a file or registers.
#pragma once
#include <chrono>
#include <filesystem>
#include <string>

#include "ctl/check/checks.h"

namespace edgeprov::ctl::check {

struct GatherOptions {
  std::filesystem::path config_file;
  std::string endpoint;                                   // --endpoint; empty: the configuration's
  std::chrono::milliseconds timeout{std::chrono::seconds(15)};  // for each network step and each service call
};

// Gathers the fact groups named by `needs` (Need bits); config is always loaded.
Facts gather(const GatherOptions& options, unsigned needs);

}  // namespace edgeprov::ctl::check
