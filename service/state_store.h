// service/state_store.h — what edgeprovd remembers across restarts: the assignment and the backoff schedule,
// in `{[edgeprov.state] dir}/provisioning.json`. Written atomically (edge-config/atomic_file.h), versioned,
// and bound to the settings it was made for: a file that is corrupt, of another version or for other
// settings is set aside and never trusted. It holds no secret (the hub key lives in the TPM or the config).
#pragma once
#include <filesystem>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "dps/retry.h"
#include "service/status.h"

namespace edgeprov::service {

// What the persisted assignment was obtained with. A change of any of them in the config means the
// assignment may belong to another enrollment: it is not reused.
struct PersistedSettings {
  std::string global_endpoint;
  std::string id_scope;
  std::string registration_id;
  std::string attestation;  // config::to_string(AttestationMethod)
  friend bool operator==(const PersistedSettings&, const PersistedSettings&) = default;
};

struct PersistedState {
  PersistedSettings settings;
  std::optional<Assignment> assignment;
  dps::RetrySchedule retry;
};

inline constexpr int state_file_version = 1;

// Pure: the file's JSON form, and strict reading of it (std::nullopt with `why` for anything else).
nlohmann::json to_json(const PersistedState& state);
std::optional<PersistedState> persisted_state_from_json(const nlohmann::json& json, std::string& why);

class StateStore {
 public:
  explicit StateStore(std::filesystem::path dir);

  const std::filesystem::path& file() const { return file_; }

  // The persisted state when it exists and was written for `expected`; std::nullopt when there is none.
  // A file that cannot be trusted is renamed to provisioning.json.rejected-<UTC time> and a warning
  // names it and the reason. Never throws.
  std::optional<PersistedState> load(const PersistedSettings& expected);

  // The persisted state as it is, without checking what it was written for and without setting anything
  // aside: for a first look before the expected settings are known (the TPM's registration id).
  std::optional<PersistedState> peek() const;

  // Replaces the file atomically (0600). Throws std::system_error naming the path.
  void save(const PersistedState& state);

 private:
  void set_aside(const std::string& why);
  enum class ReadProblem { none, absent, unreadable, invalid };
  std::optional<PersistedState> read(ReadProblem& problem, std::string& why) const;

  std::filesystem::path dir_;
  std::filesystem::path file_;
};

}  // namespace edgeprov::service
