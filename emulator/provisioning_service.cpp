#include "emulator/provisioning_service.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

#include "common/crypto.h"
#include "common/encoding.h"
#include "emulator/allocation.h"
#include "emulator/sas_check.h"
#include "emulator/tpm_challenge.h"
#include "emulator/x509_check.h"

namespace edgeprov::emulator {

using nlohmann::json;

namespace {

constexpr auto operation_lifetime = std::chrono::minutes(30);
constexpr std::size_t max_operations = 200000;

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string new_etag() { return base64_encode(as_bytes("\"" + new_tracking_id() + "\"")); }

std::string new_operation_id() {
  return "4." + hex_encode(random_bytes(8)) + "." + new_tracking_id();
}

Bytes decode_key(const std::string& b64) {
  auto bytes = base64_decode(b64);
  return bytes ? *bytes : Bytes{};
}

std::vector<Bytes> symmetric_keys(const EnrollmentSettings& s) { return {decode_key(s.primary_key), decode_key(s.secondary_key)}; }

// §4.4: deviceKey = HMAC-SHA256(groupKey, registrationId).
Bytes derived_key(const std::string& group_key_b64, std::string_view registration_id) {
  auto digest = hmac_sha256(decode_key(group_key_b64), as_bytes(registration_id));
  return Bytes(digest.begin(), digest.end());
}

json registration_to_json(const Registration& r) {
  json out = {{"registrationId", r.registration_id},
              {"createdDateTimeUtc", r.created},
              {"status", r.status},
              {"lastUpdatedDateTimeUtc", r.last_updated},
              {"etag", r.etag},
              {"attestation", to_string(r.attestation)}};
  if (!r.assigned_hub.empty()) out["assignedHub"] = r.assigned_hub;
  if (!r.device_id.empty()) out["deviceId"] = r.device_id;
  if (!r.substatus.empty()) out["substatus"] = r.substatus;
  if (r.group_id) out["enrollmentGroupId"] = *r.group_id;
  if (r.error_code) {
    out["errorCode"] = *r.error_code;
    out["errorMessage"] = r.error_message;
  }
  if (!r.payload.is_null()) out["payload"] = r.payload;
  return out;
}

json registration_state(const Registration& r) {
  json state = {{"registrationId", r.registration_id}, {"createdDateTimeUtc", r.created}};
  if (r.status == "assigned") {
    state["assignedHub"] = r.assigned_hub;
    state["deviceId"] = r.device_id;
  }
  state["status"] = r.status;
  if (r.status == "assigned") state["substatus"] = r.substatus;
  if (r.error_code) state["errorCode"] = *r.error_code;
  if (!r.error_message.empty()) state["errorMessage"] = r.error_message;
  state["lastUpdatedDateTimeUtc"] = r.last_updated;
  state["etag"] = r.etag;
  if (r.status == "assigned" && !r.payload.is_null()) state["payload"] = r.payload;
  return state;
}

DeviceReply unauthorized(const std::string& why, SystemTime now) {
  DeviceReply reply = error_reply(401, error_code::unauthorized, "Unauthorized: " + why, now);
  reply.outcome = "401 unauthorized";
  return reply;
}

void stamp(EnrollmentSettings& s, const EnrollmentSettings* previous, SystemTime now) {
  if (previous && same_content(*previous, s)) {
    s.etag = previous->etag;
    s.created = previous->created;
    s.last_updated = previous->last_updated;
    return;
  }
  s.etag = new_etag();
  s.created = previous ? previous->created : to_rfc3339(now, true);
  s.last_updated = to_rfc3339(now, true);
}

}  // namespace

bool accepted_api_version(std::string_view v) {
  if (v.size() != 10 || v[4] != '-' || v[7] != '-') return false;
  for (std::size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (!std::isdigit(static_cast<unsigned char>(v[i]))) return false;
  }
  return v >= "2019-03-31" && v <= "2021-06-01";
}

ProvisioningService::ProvisioningService(ServiceOptions options) : options_(std::move(options)) {}

void ProvisioningService::set_on_change(std::function<void()> callback) {
  std::lock_guard lock(mutex_);
  on_change_ = std::move(callback);
}

void ProvisioningService::changed() {
  std::function<void()> callback;
  {
    std::lock_guard lock(mutex_);
    callback = on_change_;
  }
  if (callback) callback();
}

// ---------------------------------------------------------------- device API

std::optional<DeviceReply> ProvisioningService::attest_tpm(const DeviceRequest& request, const json& body,
                                                            const Enrollment& e, Attested& out) {
  const std::string key = lower(request.registration_id);
  Bytes ek, srk;
  if (auto tpm = body.find("tpm"); tpm != body.end() && tpm->is_object()) {
    auto ek_b64 = tpm->value("endorsementKey", std::string{});
    auto srk_b64 = tpm->value("storageRootKey", std::string{});
    auto ek_bytes = base64_decode(ek_b64);
    auto srk_bytes = base64_decode(srk_b64);
    if (!ek_b64.empty() && !ek_bytes)
      return error_reply(400, error_code::bad_request, "tpm.endorsementKey is not valid base64", now());
    if (!srk_b64.empty() && !srk_bytes)
      return error_reply(400, error_code::bad_request, "tpm.storageRootKey is not valid base64", now());
    if (ek_bytes) ek = std::move(*ek_bytes);
    if (srk_bytes) srk = std::move(*srk_bytes);
  }
  if (!ek.empty() && ek != e.settings.endorsement_key)
    return unauthorized("the endorsement key in the request does not match the enrollment's; update the enrollment with "
                        "this TPM's EK or check the registration id",
                        now());

  if (!request.authorization) {
    if (ek.empty() || srk.empty())
      return error_reply(400, error_code::bad_request,
                         "a TPM registration must first send tpm.endorsementKey and tpm.storageRootKey "
                         "(base64 of the marshalled TPM2B_PUBLIC areas)",
                         now());
    std::string why;
    auto ek_public = tpm::parse_rsa_public(ek, &why);
    if (!ek_public) return error_reply(400, error_code::bad_request, "tpm.endorsementKey: " + why, now());
    auto srk_public = tpm::parse_rsa_public(srk, &why);
    if (!srk_public) return error_reply(400, error_code::bad_request, "tpm.storageRootKey: " + why, now());
    auto random = tpm::ChallengeRandomness::generate();
    Bytes blob = tpm::build_activation_blob(*ek_public, *srk_public, random);
    tpm_keys_[key] = PendingTpm{random.hmac_key, srk};
    return tpm_challenge_reply(base64_encode(blob));
  }

  auto pending = tpm_keys_.find(key);
  if (pending == tpm_keys_.end())
    return unauthorized("no TPM challenge was issued to this registration; send the first request without "
                        "Authorization to get one",
                        now());
  auto token = parse_sas_token(*request.authorization);
  if (!token) return unauthorized(describe(SasVerdict::malformed), now());
  std::vector<Bytes> keys{pending->second.registration_key};
  auto check = verify_sas(*token, options_.id_scope + "/registrations/" + request.registration_id, keys, now(), options_.sas_skew);
  if (check.verdict != SasVerdict::valid) {
    if (check.verdict == SasVerdict::bad_signature)
      return unauthorized("the SAS token was not signed with the key of the last TPM challenge; import the "
                          "authenticationKey blob of the last 401 reply and sign with it",
                          now());
    return unauthorized(describe(check.verdict), now());
  }
  out.settings = &e.settings;
  out.device_id = e.device_id;
  out.auth = {AttestationType::tpm, pending->second.registration_key, {}};
  return std::nullopt;
}

std::optional<DeviceReply> ProvisioningService::attest(const DeviceRequest& request, const json& body, Attested& out) {
  const std::string key = lower(request.registration_id);
  const std::string audience = options_.id_scope + "/registrations/" + request.registration_id;

  if (auto it = enrollments_.find(key); it != enrollments_.end()) {
    const Enrollment& e = it->second;
    switch (e.settings.attestation) {
      case AttestationType::tpm:
        if (request.transport == Transport::mqtt)
          return error_reply(400, error_code::bad_request,
                             "TPM attestation is not available over MQTT (DPS clients refuse it too); register over HTTPS",
                             now());
        return attest_tpm(request, body, e, out);
      case AttestationType::symmetric_key: {
        if (!request.authorization)
          return unauthorized("this enrollment uses symmetric-key attestation; send an Authorization SAS token", now());
        auto token = parse_sas_token(*request.authorization);
        if (!token) return unauthorized(describe(SasVerdict::malformed), now());
        auto keys = symmetric_keys(e.settings);
        auto check = verify_sas(*token, audience, keys, now(), options_.sas_skew);
        if (check.verdict != SasVerdict::valid) return unauthorized(describe(check.verdict), now());
        out.settings = &e.settings;
        out.device_id = e.device_id;
        out.auth = {AttestationType::symmetric_key, keys[check.key_index], {}};
        out.hub_key = keys[check.key_index];
        return std::nullopt;
      }
      case AttestationType::x509: {
        if (request.client_chain.empty())
          return unauthorized("this enrollment uses X.509 attestation; present the device certificate in the TLS handshake", now());
        const Bytes& leaf = request.client_chain.front();
        auto cn = x509::common_name(leaf);
        if (!cn || lower(*cn) != key)
          return unauthorized("the client certificate's CN (" + cn.value_or("none") + ") is not the registration id", now());
        bool match = std::find(e.settings.x509.certificates.begin(), e.settings.x509.certificates.end(), leaf) !=
                     e.settings.x509.certificates.end();
        for (const auto& thumbprint : e.settings.x509.thumbprints) {
          match = match || thumbprint == x509::sha1_thumbprint(leaf) || thumbprint == x509::sha256_thumbprint(leaf);
        }
        if (!match)
          return unauthorized("the client certificate is not the one of the enrollment (certificate or thumbprint differs)", now());
        out.settings = &e.settings;
        out.device_id = e.device_id;
        out.auth = {AttestationType::x509, {}, x509::sha256_thumbprint(leaf)};
        return std::nullopt;
      }
    }
  }

  // Enrollment groups: X.509 by the CA the chain leads to, symmetric key by the group key that signed the token.
  if (!request.client_chain.empty()) {
    const Bytes& leaf = request.client_chain.front();
    auto cn = x509::common_name(leaf);
    std::string last_error;
    for (const auto& [id, group] : groups_) {
      if (group.settings.attestation != AttestationType::x509) continue;
      if (!x509::chain_leads_to(request.client_chain, group.settings.x509.certificates, last_error)) continue;
      if (!cn || lower(*cn) != key)
        return unauthorized("the client certificate's CN (" + cn.value_or("none") + ") is not the registration id", now());
      out.settings = &group.settings;
      out.group_id = id;
      out.auth = {AttestationType::x509, {}, x509::sha256_thumbprint(leaf)};
      return std::nullopt;
    }
  } else if (request.authorization) {
    auto token = parse_sas_token(*request.authorization);
    if (!token) return unauthorized(describe(SasVerdict::malformed), now());
    for (const auto& [id, group] : groups_) {
      if (group.settings.attestation != AttestationType::symmetric_key) continue;
      std::vector<Bytes> keys{derived_key(group.settings.primary_key, request.registration_id),
                              derived_key(group.settings.secondary_key, request.registration_id)};
      auto check = verify_sas(*token, audience, keys, now(), options_.sas_skew);
      if (check.verdict == SasVerdict::valid) {
        out.settings = &group.settings;
        out.group_id = id;
        out.auth = {AttestationType::symmetric_key, keys[check.key_index], {}};
        out.hub_key = keys[check.key_index];
        return std::nullopt;
      }
      if (check.verdict != SasVerdict::bad_signature) return unauthorized(describe(check.verdict), now());
    }
  }
  DeviceReply reply = error_reply(404, error_code::enrollment_not_found,
                                  "no enrollment for registration id '" + request.registration_id +
                                      "': no individual enrollment has this id and no enrollment group accepts its "
                                      "credentials; create the enrollment (admin API PUT /enrollments/{id}) or check the "
                                      "device key/certificate",
                                  now());
  reply.outcome = "404 enrollment not found";
  return reply;
}

json ProvisioningService::assign(const std::string& registration_id, const Attested& attested, const json& request_payload,
                                 const std::string& srk_for_hub_key) {
  const EnrollmentSettings& s = *attested.settings;
  const std::string key = lower(registration_id);
  const std::string stamp_now = to_rfc3339(now(), true);
  const std::string& enrollment_etag = s.etag;
  auto existing = registrations_.find(key);
  Registration r;
  if (existing != registrations_.end()) r = existing->second;
  bool had_hub = !r.assigned_hub.empty();
  if (r.created.empty()) r.created = stamp_now;
  r.registration_id = registration_id;
  r.attestation = s.attestation;
  r.group_id = attested.group_id;
  r.last_updated = stamp_now;
  r.etag = new_etag();
  r.error_code.reset();
  r.error_message.clear();

  if (!s.enabled) {
    r.status = "disabled";
    r.error_message = "the enrollment is disabled (provisioningStatus \"disabled\"); enable it to provision this device";
    registrations_[key] = r;
    return registration_state(r);
  }

  const auto& hubs = s.iot_hubs.empty() ? options_.iot_hubs : s.iot_hubs;
  AllocationPolicy policy = s.allocation_policy.value_or(options_.default_policy);
  bool enrollment_changed = r.enrollment_etag != enrollment_etag;
  std::string hub = r.assigned_hub;
  if (!had_hub || (enrollment_changed && s.update_hub_assignment)) {
    auto allocated = allocate_hub(policy, hubs, registration_id);
    if (!allocated) {
      r.status = "failed";
      r.error_code = error_code::no_hub;
      r.error_message = "no IoT hub is linked to this enrollment or to the emulator; configure iot_hubs or the "
                        "enrollment's iotHubs";
      registrations_[key] = r;
      return registration_state(r);
    }
    hub = *allocated;
  }
  if (!had_hub) {
    r.substatus = "initialAssignment";
    r.initial_hub = hub;
  } else if (hub != r.assigned_hub) {
    r.substatus = hub == r.initial_hub ? "reprovisionedToInitialAssignment"
                                       : (s.migrate_device_data ? "deviceDataMigrated" : "deviceDataReset");
  } else if (r.substatus.empty()) {
    r.substatus = "initialAssignment";
  }
  r.status = "assigned";
  r.assigned_hub = hub;
  r.device_id = attested.device_id.value_or(registration_id);
  r.enrollment_etag = enrollment_etag;
  r.payload = s.reply_payload;
  if (r.payload.is_null() && policy == AllocationPolicy::custom && !request_payload.is_null()) r.payload = request_payload;

  json state = registration_state(r);
  if (s.attestation == AttestationType::tpm) {
    // The hub key: a second blob wrapped the same way; the device imports it over the registration key.
    auto ek = tpm::parse_rsa_public(s.endorsement_key);
    auto srk_bytes = base64_decode(srk_for_hub_key);
    auto srk = srk_bytes ? tpm::parse_rsa_public(*srk_bytes) : std::nullopt;
    if (ek && srk) {
      auto random = tpm::ChallengeRandomness::generate();
      state["tpm"] = {{"authenticationKey", base64_encode(tpm::build_activation_blob(*ek, *srk, random))}};
      r.hub_key = random.hmac_key;
    }
  } else {
    r.hub_key = attested.hub_key;
  }
  registrations_[key] = r;
  return state;
}

DeviceReply ProvisioningService::register_device(const DeviceRequest& request) {
  if (!valid_registration_id(request.registration_id))
    return error_reply(400, error_code::bad_request,
                       "registration id '" + request.registration_id + "' is invalid: use 1 to 128 letters, digits, '-', '.', '_' or ':'",
                       now());
  json body = json::object();
  if (json_nesting_exceeds(request.body, 32))
    return error_reply(400, error_code::bad_request, "the request body nests deeper than 32 levels", now());
  if (!request.body.empty()) {
    body = json::parse(request.body, nullptr, false);
    if (body.is_discarded() || !body.is_object())
      return error_reply(400, error_code::bad_request,
                         "the request body is not a JSON object; send {\"registrationId\": \"…\"[, \"payload\": …]}", now());
  }
  if (auto id = body.find("registrationId"); id != body.end()) {
    if (!id->is_string() || lower(id->get<std::string>()) != lower(request.registration_id))
      return error_reply(400, error_code::bad_request,
                         "registrationId in the body differs from the registration id in the request path", now());
  }
  json request_payload = body.contains("payload") ? body["payload"] : json();

  DeviceReply reply;
  bool mutated = false;
  {
    std::lock_guard lock(mutex_);
    Attested attested;
    if (auto failure = attest(request, body, attested)) {
      mutated = failure->status == 401 && !failure->body.empty() && failure->outcome == "401 tpm challenge";
      reply = std::move(*failure);
    } else {
      std::string srk;
      if (attested.auth.attestation == AttestationType::tpm) {
        auto pending = tpm_keys_.find(lower(request.registration_id));
        if (pending != tpm_keys_.end()) srk = base64_encode(pending->second.storage_root_key);
      }
      Operation op;
      op.registration_key = lower(request.registration_id);
      op.registration_id = request.registration_id;
      op.auth = attested.auth;
      op.final_state = assign(request.registration_id, attested, request_payload, srk);
      op.polls_left = options_.assigning_polls;
      op.created = now();
      op.ready_at = op.created + options_.assigning_time;
      std::string id = new_operation_id();
      prune_operations(op.created);
      operation_order_.emplace_back(op.created, id);
      operations_.emplace(id, std::move(op));
      reply = assigning_reply(id, options_.retry_after_seconds);
      mutated = true;
    }
  }
  if (mutated) changed();
  return reply;
}

std::optional<DeviceReply> ProvisioningService::check_poll_auth(const DeviceRequest& request, const PollAuth& auth) {
  if (auth.attestation == AttestationType::x509) {
    if (request.client_chain.empty() || x509::sha256_thumbprint(request.client_chain.front()) != auth.thumbprint)
      return unauthorized("present the same client certificate as for the register request", now());
    return std::nullopt;
  }
  if (!request.authorization) return unauthorized("send the SAS token of the register request in Authorization", now());
  auto token = parse_sas_token(*request.authorization);
  if (!token) return unauthorized(describe(SasVerdict::malformed), now());
  std::vector<Bytes> keys{auth.key};
  auto check = verify_sas(*token, options_.id_scope + "/registrations/" + request.registration_id, keys, now(), options_.sas_skew);
  if (check.verdict != SasVerdict::valid) return unauthorized(describe(check.verdict), now());
  return std::nullopt;
}

DeviceReply ProvisioningService::operation_status(const DeviceRequest& request) {
  std::lock_guard lock(mutex_);
  auto it = operations_.find(request.operation_id);
  if (it == operations_.end() || it->second.registration_key != lower(request.registration_id)) {
    DeviceReply reply = error_reply(404, error_code::operation_not_found,
                                    "operation '" + request.operation_id + "' is unknown for registration '" +
                                        request.registration_id + "'; register again to start a new operation",
                                    now());
    reply.outcome = "404 operation not found";
    return reply;
  }
  Operation& op = it->second;
  if (auto failure = check_poll_auth(request, op.auth)) return *failure;
  if (op.polls_left > 0 || now() < op.ready_at) {
    if (op.polls_left > 0) --op.polls_left;
    return assigning_poll_reply(request.operation_id, op.registration_id, options_.retry_after_seconds);
  }
  return final_poll_reply(request.operation_id, op.final_state);
}

std::optional<std::string> ProvisioningService::check_connection(const DeviceRequest& request) {
  std::lock_guard lock(mutex_);
  if (!valid_registration_id(request.registration_id)) return "the registration id is invalid";
  auto it = enrollments_.find(lower(request.registration_id));
  if (it != enrollments_.end() && it->second.settings.attestation == AttestationType::tpm)
    return "TPM attestation is not available over MQTT; register over HTTPS";
  Attested attested;
  if (auto failure = attest(request, json::object(), attested)) return failure->outcome;
  return std::nullopt;
}

void ProvisioningService::prune_operations(SystemTime now) {
  while (!operation_order_.empty() &&
         (operation_order_.front().first + operation_lifetime < now || operation_order_.size() >= max_operations)) {
    operations_.erase(operation_order_.front().second);
    operation_order_.pop_front();
  }
}

// ---------------------------------------------------------------- admin API

namespace {
AdminResult admin_error(int status, int code, const std::string& message, SystemTime now) {
  return {status, error_body(code, message, now)};
}
}  // namespace

AdminResult ProvisioningService::put_enrollment(const std::string& id, const json& body) {
  std::string error;
  auto enrollment = enrollment_from_json(body, id, error);
  if (!enrollment) return admin_error(400, error_code::bad_request, error, now());
  AdminResult result;
  {
    std::lock_guard lock(mutex_);
    std::string key = lower(id);
    auto existing = enrollments_.find(key);
    stamp(enrollment->settings, existing == enrollments_.end() ? nullptr : &existing->second.settings, now());
    if (existing != enrollments_.end() && existing->second.device_id != enrollment->device_id)
      enrollment->settings.etag = new_etag();  // a new device id is a change that reassigns
    if (existing == enrollments_.end() || existing->second.settings.endorsement_key != enrollment->settings.endorsement_key)
      tpm_keys_.erase(key);
    result = {existing == enrollments_.end() ? 201 : 200, to_json(*enrollment)};
    enrollments_[key] = std::move(*enrollment);
  }
  changed();
  return result;
}

AdminResult ProvisioningService::get_enrollment(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = enrollments_.find(lower(id));
  if (it == enrollments_.end())
    return admin_error(404, error_code::enrollment_not_found, "no individual enrollment '" + id + "'", now());
  return {200, to_json(it->second)};
}

AdminResult ProvisioningService::delete_enrollment(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    if (enrollments_.erase(lower(id)) == 0)
      return admin_error(404, error_code::enrollment_not_found, "no individual enrollment '" + id + "'", now());
    tpm_keys_.erase(lower(id));
  }
  changed();
  return {204, nullptr};
}

AdminResult ProvisioningService::list_enrollments() const {
  std::lock_guard lock(mutex_);
  json out = json::array();
  for (const auto& [key, e] : enrollments_) out.push_back(to_json(e));
  return {200, out};
}

AdminResult ProvisioningService::put_group(const std::string& id, const json& body) {
  std::string error;
  auto group = group_from_json(body, id, error);
  if (!group) return admin_error(400, error_code::bad_request, error, now());
  AdminResult result;
  {
    std::lock_guard lock(mutex_);
    auto existing = groups_.find(id);
    stamp(group->settings, existing == groups_.end() ? nullptr : &existing->second.settings, now());
    result = {existing == groups_.end() ? 201 : 200, to_json(*group)};
    groups_[id] = std::move(*group);
  }
  changed();
  return result;
}

AdminResult ProvisioningService::get_group(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = groups_.find(id);
  if (it == groups_.end()) return admin_error(404, error_code::enrollment_not_found, "no enrollment group '" + id + "'", now());
  return {200, to_json(it->second)};
}

AdminResult ProvisioningService::delete_group(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    if (groups_.erase(id) == 0)
      return admin_error(404, error_code::enrollment_not_found, "no enrollment group '" + id + "'", now());
  }
  changed();
  return {204, nullptr};
}

AdminResult ProvisioningService::list_groups() const {
  std::lock_guard lock(mutex_);
  json out = json::array();
  for (const auto& [key, g] : groups_) out.push_back(to_json(g));
  return {200, out};
}

AdminResult ProvisioningService::list_registrations() const {
  std::lock_guard lock(mutex_);
  json out = json::array();
  for (const auto& [key, r] : registrations_) out.push_back(registration_to_json(r));
  return {200, out};
}

AdminResult ProvisioningService::get_registration(const std::string& id) const {
  std::lock_guard lock(mutex_);
  auto it = registrations_.find(lower(id));
  if (it == registrations_.end())
    return admin_error(404, error_code::not_found, "no device registration '" + id + "'", now());
  return {200, registration_to_json(it->second)};
}

AdminResult ProvisioningService::delete_registration(const std::string& id) {
  {
    std::lock_guard lock(mutex_);
    if (registrations_.erase(lower(id)) == 0)
      return admin_error(404, error_code::not_found, "no device registration '" + id + "'", now());
  }
  changed();
  return {204, nullptr};
}

AdminResult ProvisioningService::check_hub_sas(const std::string& text) const {
  auto token = parse_sas_token(text);
  if (!token) return {200, {{"valid", false}, {"reason", describe(SasVerdict::malformed)}}};
  auto audience = sas_audience(*token);
  auto slash = audience ? audience->find("/devices/") : std::string::npos;
  if (slash == std::string::npos)
    return {200, {{"valid", false}, {"reason", "the token's sr is not \"{hub}/devices/{deviceId}\""}}};
  std::string hub = lower(audience->substr(0, slash));
  std::string device = lower(audience->substr(slash + 9));
  std::lock_guard lock(mutex_);
  for (const auto& [key, r] : registrations_) {
    if (r.status != "assigned" || lower(r.assigned_hub) != hub || lower(r.device_id) != device) continue;
    if (r.hub_key.empty())
      return {200, {{"valid", false}, {"registrationId", r.registration_id}, {"reason", "this device was given no hub key (X.509)"}}};
    std::vector<Bytes> keys{r.hub_key};
    auto check = verify_sas(*token, *audience, keys, now(), options_.sas_skew);
    json out = {{"valid", check.verdict == SasVerdict::valid}, {"registrationId", r.registration_id},
                {"assignedHub", r.assigned_hub}, {"deviceId", r.device_id}};
    if (check.verdict != SasVerdict::valid) out["reason"] = describe(check.verdict);
    return {200, out};
  }
  return {200, {{"valid", false}, {"reason", "no device is assigned to that hub with that device id"}}};
}

// ---------------------------------------------------------------- persistence

json ProvisioningService::snapshot() const {
  std::lock_guard lock(mutex_);
  json state = {{"version", 1}, {"enrollments", json::array()}, {"enrollmentGroups", json::array()},
                {"registrations", json::array()}, {"tpmKeys", json::object()}};
  auto bookkeeping = [](json& j, const EnrollmentSettings& s) {
    j["etag"] = s.etag;
    j["createdDateTimeUtc"] = s.created;
    j["lastUpdatedDateTimeUtc"] = s.last_updated;
  };
  for (const auto& [key, e] : enrollments_) {
    json j = to_json(e);
    bookkeeping(j, e.settings);
    state["enrollments"].push_back(j);
  }
  for (const auto& [key, g] : groups_) {
    json j = to_json(g);
    bookkeeping(j, g.settings);
    state["enrollmentGroups"].push_back(j);
  }
  for (const auto& [key, r] : registrations_) {
    json j = registration_to_json(r);
    j["initialHub"] = r.initial_hub;
    j["enrollmentEtag"] = r.enrollment_etag;
    j["hubKey"] = base64_encode(r.hub_key);
    if (r.status != "assigned" && !r.error_message.empty()) j["errorMessage"] = r.error_message;
    state["registrations"].push_back(j);
  }
  for (const auto& [key, t] : tpm_keys_) {
    state["tpmKeys"][key] = {{"registrationKey", base64_encode(t.registration_key)},
                             {"storageRootKey", base64_encode(t.storage_root_key)}};
  }
  return state;
}

void ProvisioningService::restore(const json& state) {
  if (!state.is_object() || state.value("version", 0) != 1)
    throw std::runtime_error("the state file is not an emulator state (version 1); move it away to start afresh");
  std::map<std::string, Enrollment> enrollments;
  std::map<std::string, EnrollmentGroup> groups;
  std::map<std::string, Registration> registrations;
  std::map<std::string, PendingTpm> tpm_keys;
  auto keep_bookkeeping = [](const json& j, EnrollmentSettings& s) {
    s.etag = j.value("etag", "");
    s.created = j.value("createdDateTimeUtc", "");
    s.last_updated = j.value("lastUpdatedDateTimeUtc", "");
  };
  for (const auto& j : state.value("enrollments", json::array())) {
    std::string error;
    auto e = enrollment_from_json(j, j.value("registrationId", ""), error);
    if (!e) throw std::runtime_error("an enrollment in the state file is invalid: " + error);
    keep_bookkeeping(j, e->settings);
    enrollments[lower(e->registration_id)] = std::move(*e);
  }
  for (const auto& j : state.value("enrollmentGroups", json::array())) {
    std::string error;
    auto g = group_from_json(j, j.value("enrollmentGroupId", ""), error);
    if (!g) throw std::runtime_error("an enrollment group in the state file is invalid: " + error);
    keep_bookkeeping(j, g->settings);
    groups[g->group_id] = std::move(*g);
  }
  for (const auto& j : state.value("registrations", json::array())) {
    Registration r;
    r.registration_id = j.value("registrationId", "");
    std::string type = j.value("attestation", "symmetricKey");
    r.attestation = type == "tpm" ? AttestationType::tpm : type == "x509" ? AttestationType::x509 : AttestationType::symmetric_key;
    if (j.contains("enrollmentGroupId")) r.group_id = j["enrollmentGroupId"].get<std::string>();
    r.status = j.value("status", "");
    r.assigned_hub = j.value("assignedHub", "");
    r.device_id = j.value("deviceId", "");
    r.substatus = j.value("substatus", "");
    r.initial_hub = j.value("initialHub", "");
    r.created = j.value("createdDateTimeUtc", "");
    r.last_updated = j.value("lastUpdatedDateTimeUtc", "");
    r.etag = j.value("etag", "");
    r.enrollment_etag = j.value("enrollmentEtag", "");
    if (j.contains("errorCode")) r.error_code = j["errorCode"].get<int>();
    r.error_message = j.value("errorMessage", "");
    r.payload = j.value("payload", json());
    r.hub_key = base64_decode(j.value("hubKey", "")).value_or(Bytes{});
    if (r.registration_id.empty()) throw std::runtime_error("a registration in the state file has no registrationId");
    registrations[lower(r.registration_id)] = std::move(r);
  }
  const json pending_keys = state.value("tpmKeys", json::object());  // items() must not outlive its json
  for (const auto& [key, j] : pending_keys.items()) {
    tpm_keys[key] = {base64_decode(j.value("registrationKey", "")).value_or(Bytes{}),
                     base64_decode(j.value("storageRootKey", "")).value_or(Bytes{})};
  }
  std::lock_guard lock(mutex_);
  enrollments_ = std::move(enrollments);
  groups_ = std::move(groups);
  registrations_ = std::move(registrations);
  tpm_keys_ = std::move(tpm_keys);
}

}  // namespace edgeprov::emulator
