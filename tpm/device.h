// tpm/device.h — one connection to the TPM through tpm2-tss ESAPI: EK and SRK, the registration id,
// the DPS keys (loaded as transient objects, persisted at the auth handle, HMAC signing) and the TPM's
// facts. Blocking and not thread-safe: tpm::Worker owns one on its thread. Keys never leave the TPM;
// secrets never reach a message.
#pragma once
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "common/bytes.h"
#include "common/crypto.h"
#include "tpm/error.h"
#include "tpm/options.h"

namespace edgeprov::tpm {

// The EK and SRK as DPS receives them: marshalled TPM2B_PUBLIC, 2-byte size included.
struct PublicKeys {
  Bytes endorsement_key;
  Bytes storage_root_key;
  std::string registration_id;  // registration_id_from_ek(endorsement_key)
};

// Lowercase unpadded base32 of SHA-256 over the marshalled EK (what the Azure C SDK's
// tpm_device_provision prints as "Registration Id").
std::string registration_id_from_ek(ByteView endorsement_key);

struct Info {
  std::string manufacturer;      // TPM_PT_MANUFACTURER as text, e.g. "IBM", "INTC", "MSFT"
  std::string vendor;            // TPM_PT_VENDOR_STRING_1..4, trimmed
  std::string firmware_version;  // TPM_PT_FIRMWARE_VERSION_1/2 as "a.b.c.d" (16-bit groups)
  std::string spec_family;       // "2.0"
  std::uint32_t spec_level = 0;
  std::uint32_t spec_revision = 0;  // e.g. 164 for revision 1.64
  std::uint32_t lockout_counter = 0, max_auth_fail = 0, lockout_interval = 0, lockout_recovery = 0;
  bool in_lockout = false;
  bool owner_auth_set = false, endorsement_auth_set = false, lockout_auth_set = false;
  bool endorsement_key_present = false, storage_root_key_present = false, auth_key_present = false;
  std::uint32_t auth_key_handle = 0;
  std::vector<std::uint32_t> persistent_handles;
  std::uint32_t transient_objects = 0;  // transient objects loaded right now
  std::uint32_t loaded_sessions = 0;    // sessions loaded or saved (active) right now
};

struct ImportedKey {
  std::uint32_t handle = 0;  // 0x81000000 + auth_key_index
  bool replaced = false;     // a previous key was evicted after the new one loaded
};

// The two kinds of HMAC key a TPM device holds (docs/dps-protocol.md §5.9); every signature names one.
//
// The key persisted at 0x81000000 + auth_key_index: the hub key of the assignment the device serves. Only
// a successful registration replaces it (persist_key).
struct PersistedKey {};
// A DPS key blob loaded under the SRK as a transient object, never persisted by loading: the key of a
// registration attempt's 401 challenge, or the hub key on its way to persist_key. A Device holds at most
// one; it is gone once flushed, persisted, replaced by the next load, or when the connection or the TPM
// resets. The id (unique in the process) tells a key from the ones loaded before it.
struct TransientKey {
  std::uint64_t id = 0;
  friend bool operator==(const TransientKey&, const TransientKey&) = default;
};
using SigningKey = std::variant<PersistedKey, TransientKey>;

class Device {
 public:
  // Connects through the TCTI and starts the TPM if it is not started. Throws Error.
  explicit Device(Options options);
  ~Device();
  Device(const Device&) = delete;
  Device& operator=(const Device&) = delete;

  // Reads the EK (0x81010001) and SRK (0x81000001), creating and persisting them from the TCG templates
  // when absent; a persisted key is used as it is.
  PublicKeys keys();
  // Loads a DPS authentication-key blob (ActivateCredential, Import, Load under the SRK) as this
  // connection's transient key, flushing the one loaded before. Nothing persisted changes, on success or
  // failure.
  TransientKey load_key(ByteView blob);
  // Makes the loaded key `key` the one at 0x81000000 + auth_key_index: the old key is evicted only now,
  // and the transient object is flushed (on failure too). transient_key_lost if `key` is no longer loaded;
  // then the persisted key is untouched.
  ImportedKey persist_key(TransientKey key);
  // Flushes `key` if it is still the loaded one; otherwise nothing to do.
  void flush_key(TransientKey key);
  // load_key then persist_key: on any failure the previous persisted key keeps working.
  ImportedKey import_auth_key(ByteView blob);
  // HMAC-SHA-256 of `data` with the persisted key (no_auth_key when there is none) or with a loaded
  // transient key (transient_key_lost when it is no longer loaded).
  Sha256Digest sign(const SigningKey& key, ByteView data);
  bool auth_key_present();
  Info info();

  const Options& options() const { return options_; }
  // TPM commands sent on this connection (a counting TCTI layer sees every one).
  std::uint64_t commands_sent() const;
  // The commands sent since the last clear and how long the TPM took for each, for measurements.
  struct CommandRecord {
    std::uint32_t code = 0;  // TPM_CC; command_name() gives its name
    std::chrono::microseconds elapsed{0};
  };
  std::vector<CommandRecord> command_log() const;
  void clear_command_log();

 private:
  struct State;
  Options options_;
  std::unique_ptr<State> state_;
};

std::string command_name(std::uint32_t command_code);  // "ActivateCredential" for TPM_CC 0x147, …

}  // namespace edgeprov::tpm
