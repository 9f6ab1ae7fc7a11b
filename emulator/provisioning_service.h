// emulator/provisioning_service.h — the emulated DPS instance: enrollments, device registrations, operations,
// TPM challenge keys, and the device-facing register/poll logic shared by HTTPS and MQTT. Transport-free and
// thread-safe (one mutex); it never performs I/O itself: a change is reported through on_change so the
// owner can persist it. Never logs: transports log one line per request from DeviceReply::outcome.
#pragma once
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/bytes.h"
#include "common/time.h"
#include "emulator/enrollment.h"
#include "emulator/replies.h"
#include "emulator/traffic.h"

namespace edgeprov::emulator {

struct DeviceRequest {
  Transport transport = Transport::https;
  std::string registration_id;              // from the path (HTTPS) or the username (MQTT)
  std::string operation_id;                 // status polls only
  std::optional<std::string> authorization; // the SAS token (Authorization header / MQTT password)
  std::vector<Bytes> client_chain;          // TLS client certificate chain (DER, leaf first), if any
  std::string body;
};

struct ServiceOptions {
  std::string id_scope = "0ne00000000";
  std::vector<std::string> iot_hubs{"edgeprov-hub.azure-devices.net"};
  AllocationPolicy default_policy = AllocationPolicy::hashed;
  int assigning_polls = 0;                        // polls answered "assigning" before the final state
  std::chrono::seconds assigning_time{0};         // …and at least this long after the register request
  int retry_after_seconds = 1;                    // Retry-After on every 202
  std::chrono::seconds sas_skew{300};             // allowed clock difference for SAS expiry
  std::function<SystemTime()> clock = [] { return std::chrono::system_clock::now(); };
};

// api-version values accepted: 2019-03-31 through 2021-06-01 (YYYY-MM-DD).
bool accepted_api_version(std::string_view version);

struct AdminResult {
  int status = 200;
  nlohmann::json body;
};

struct Registration {
  std::string registration_id;
  AttestationType attestation = AttestationType::symmetric_key;
  std::optional<std::string> group_id;
  std::string status;  // assigned / failed / disabled
  std::string assigned_hub, device_id, substatus, initial_hub;
  std::string created, last_updated, etag;
  std::string enrollment_etag;  // of the enrollment (or group) the assignment was made from
  std::optional<int> error_code;
  std::string error_message;
  nlohmann::json payload;
  Bytes hub_key;  // the key the device was given for its hub (TPM hub key, symmetric device key)
};

class ProvisioningService {
 public:
  explicit ProvisioningService(ServiceOptions options);

  const ServiceOptions& options() const { return options_; }

  // Device API. `register_device` answers 202 (operation started), 401 (TPM challenge or bad credentials),
  // 404 (no enrollment) or 400; `operation_status` answers 202 assigning or 200 with the final state.
  DeviceReply register_device(const DeviceRequest& request);
  DeviceReply operation_status(const DeviceRequest& request);
  // MQTT CONNECT: can this registration id present these credentials at all? std::nullopt = yes, else why not.
  std::optional<std::string> check_connection(const DeviceRequest& request);

  // Admin API (DPS service API shapes).
  AdminResult put_enrollment(const std::string& id, const nlohmann::json& body);
  AdminResult get_enrollment(const std::string& id) const;
  AdminResult delete_enrollment(const std::string& id);
  AdminResult list_enrollments() const;
  AdminResult put_group(const std::string& id, const nlohmann::json& body);
  AdminResult get_group(const std::string& id) const;
  AdminResult delete_group(const std::string& id);
  AdminResult list_groups() const;
  AdminResult list_registrations() const;
  AdminResult get_registration(const std::string& id) const;
  AdminResult delete_registration(const std::string& id);
  // Is `token` a valid hub SAS ({hub}/devices/{deviceId}) signed with the key the device was given?
  AdminResult check_hub_sas(const std::string& token) const;

  // Persistence: everything but in-flight operations.
  nlohmann::json snapshot() const;
  void restore(const nlohmann::json& state);  // throws std::runtime_error naming what is wrong
  void set_on_change(std::function<void()> callback);

 private:
  struct PendingTpm {
    Bytes registration_key;  // the key given in the 401 challenge
    Bytes storage_root_key;  // marshalled TPM2B_PUBLIC, to wrap the hub key on assignment
  };
  struct PollAuth {
    AttestationType attestation = AttestationType::symmetric_key;
    Bytes key;                // SAS key that authenticated the register request
    std::string thumbprint;   // x509: SHA-256 of the device certificate
  };
  struct Operation {
    std::string registration_key;  // lowercase registration id
    std::string registration_id;
    PollAuth auth;
    nlohmann::json final_state;
    int polls_left = 0;
    SystemTime ready_at;
    SystemTime created;
  };
  // The outcome of authenticating a register request.
  struct Attested {
    const EnrollmentSettings* settings = nullptr;
    std::optional<std::string> device_id;
    std::optional<std::string> group_id;
    PollAuth auth;
    Bytes hub_key;
  };

  std::optional<DeviceReply> attest(const DeviceRequest& request, const nlohmann::json& body, Attested& out);
  std::optional<DeviceReply> attest_tpm(const DeviceRequest& request, const nlohmann::json& body, const Enrollment& e,
                                        Attested& out);
  std::optional<DeviceReply> check_poll_auth(const DeviceRequest& request, const PollAuth& auth);
  nlohmann::json assign(const std::string& registration_id, const Attested& attested, const nlohmann::json& request_payload,
                        const std::string& srk_for_hub_key);
  void prune_operations(SystemTime now);
  void changed();
  SystemTime now() const { return options_.clock(); }

  ServiceOptions options_;
  mutable std::mutex mutex_;
  std::map<std::string, Enrollment> enrollments_;     // by lowercase registration id
  std::map<std::string, EnrollmentGroup> groups_;     // by group id
  std::map<std::string, Registration> registrations_; // by lowercase registration id
  std::map<std::string, PendingTpm> tpm_keys_;        // by lowercase registration id
  std::map<std::string, Operation> operations_;
  std::deque<std::pair<SystemTime, std::string>> operation_order_;
  std::function<void()> on_change_;
};

}  // namespace edgeprov::emulator
