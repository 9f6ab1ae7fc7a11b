#include "dps/request.h"

#include <algorithm>
#include <charconv>

#include "common/encoding.h"
#include "dps/sas.h"

namespace edgeprov::dps {
namespace {

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

std::optional<std::uint16_t> parse_port(std::string_view text) {
  if (text.empty() || text.size() > 5 ||
      !std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  unsigned value = 0;
  std::from_chars(text.data(), text.data() + text.size(), value);
  if (value == 0 || value > 65535) return std::nullopt;
  return static_cast<std::uint16_t>(value);
}

std::string query_suffix() { return "?api-version=" + std::string(api_version); }

}  // namespace

std::variant<GlobalEndpoint, EndpointError> parse_endpoint(std::string_view global_endpoint) {
  const std::string shown(global_endpoint);
  auto fail = [&shown](std::string why) {
    return EndpointError{"provisioning.global_endpoint \"" + shown + "\" " + why};
  };
  std::string_view rest = global_endpoint;
  if (rest.starts_with("http://")) {
    return fail("uses http://: DPS is only reached over TLS; write https://" + std::string(rest.substr(7)));
  }
  if (rest.starts_with("https://")) rest.remove_prefix(8);
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    if (rest.substr(slash) != "/") {
      return fail("has a path or query; give only the scheme and host, e.g. https://" +
                  std::string(default_global_endpoint) + "/");
    }
    rest = rest.substr(0, slash);
  }
  if (rest.find('@') != std::string_view::npos) return fail("contains user information (\"@\"); remove it");

  GlobalEndpoint endpoint;
  std::string_view host = rest;
  std::string_view port;
  if (rest.starts_with('[')) {
    const auto close = rest.find(']');
    if (close == std::string_view::npos) return fail("has an IPv6 address without its closing ']'");
    host = rest.substr(1, close - 1);
    const std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return fail("has text after the IPv6 address that is not a :port");
      port = after.substr(1);
      if (port.empty()) return fail("ends with ':' but gives no port");
    }
    if (host.empty() || !std::all_of(host.begin(), host.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == ':' || c == '.';
        })) {
      return fail("has an invalid IPv6 address");
    }
  } else {
    if (const auto colon = rest.find(':'); colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return fail("ends with ':' but gives no port");
    }
    if (host.empty()) return fail("has no host name");
    if (!std::all_of(host.begin(), host.end(), is_host_char)) {
      return fail("has a host name with characters other than letters, digits, '-' and '.'");
    }
  }
  if (!port.empty()) {
    const auto number = parse_port(port);
    if (!number) return fail("has an invalid port (expected 1-65535)");
    endpoint.https_port = *number;
  }
  endpoint.host = std::string(host);
  return endpoint;
}

std::optional<std::string> check_registration_id(std::string_view registration_id) {
  if (registration_id.empty()) {
    return std::string("the registration id is empty: set [provisioning.attestation] registration_id");
  }
  const std::string shown(registration_id.substr(0, 140));
  if (registration_id.size() > 128) {
    return "the registration id \"" + shown + "...\" is " + std::to_string(registration_id.size()) +
           " characters long; DPS accepts at most 128";
  }
  const auto bad = std::find_if_not(registration_id.begin(), registration_id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == ':';
  });
  if (bad != registration_id.end()) {
    return "the registration id \"" + c_sdk_url_encode(registration_id) + "\" contains a character DPS does " +
           "not accept (" + c_sdk_url_encode(std::string_view(&*bad, 1)) +
           "): use only letters, digits and - . _ :";
  }
  return std::nullopt;
}

std::string register_path(std::string_view id_scope, std::string_view registration_id) {
  return "/" + c_sdk_url_encode(id_scope) + "/registrations/" + c_sdk_url_encode(registration_id) + "/register" +
         query_suffix();
}

std::string operation_status_path(std::string_view id_scope, std::string_view registration_id,
                                  std::string_view operation_id) {
  return "/" + c_sdk_url_encode(id_scope) + "/registrations/" + c_sdk_url_encode(registration_id) +
         "/operations/" + c_sdk_url_encode(operation_id) + query_suffix();
}

HttpHeaders standard_headers(std::string_view user_agent, bool has_body) {
  HttpHeaders headers{{"User-Agent", std::string(user_agent)}, {"Accept", "application/json"}};
  if (has_body) headers.emplace_back("Content-Type", "application/json; charset=utf-8");
  return headers;
}

std::string register_body(std::string_view registration_id, const std::optional<TpmKeys>& tpm,
                          const std::optional<nlohmann::json>& payload) {
  // ordered_json keeps the reference clients' key order; JSON does not need it, but it makes requests
  // byte-comparable with theirs in captures.
  nlohmann::ordered_json body;
  body["registrationId"] = std::string(registration_id);
  if (tpm) {
    body["tpm"]["endorsementKey"] = base64_encode(tpm->endorsement_key);
    body["tpm"]["storageRootKey"] = base64_encode(tpm->storage_root_key);
  }
  if (payload) body["payload"] = *payload;
  // `replace`: a registration id or payload string with invalid UTF-8 is sent with U+FFFD, not thrown.
  return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string mqtt_username(std::string_view id_scope, std::string_view registration_id,
                          std::string_view client_version) {
  std::string username;
  username.append(id_scope).append("/registrations/").append(registration_id);
  username.append("/api-version=").append(api_version).append("&ClientVersion=").append(client_version);
  return username;
}

std::string mqtt_register_topic(std::uint32_t rid) {
  return "$dps/registrations/PUT/iotdps-register/?$rid=" + std::to_string(rid);
}

std::string mqtt_status_topic(std::uint32_t rid, std::string_view operation_id) {
  return "$dps/registrations/GET/iotdps-get-operationstatus/?$rid=" + std::to_string(rid) +
         "&operationId=" + c_sdk_url_encode(operation_id);
}

std::variant<MqttReplyTopic, MqttTopicError> parse_mqtt_reply_topic(std::string_view topic) {
  constexpr std::string_view prefix = "$dps/registrations/res/";
  auto fail = [](std::string why) { return MqttTopicError{"unexpected DPS reply topic: " + std::move(why)}; };
  if (!topic.starts_with(prefix)) return fail("it does not start with " + std::string(prefix));
  std::string_view rest = topic.substr(prefix.size());
  const auto slash = rest.find('/');
  const std::string_view status_text = rest.substr(0, slash);
  if (status_text.size() != 3 ||
      !std::all_of(status_text.begin(), status_text.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return fail("the status \"" + std::string(status_text.substr(0, 8)) + "\" is not a 3-digit HTTP status");
  }
  MqttReplyTopic reply;
  std::from_chars(status_text.data(), status_text.data() + 3, reply.status);
  if (reply.status < 100) return fail("the status " + std::string(status_text) + " is not an HTTP status");
  if (slash == std::string_view::npos) return reply;
  rest = rest.substr(slash + 1);
  if (rest.empty()) return reply;
  if (!rest.starts_with('?')) return fail("the status is followed by \"/\" but not by \"?properties\"");
  rest.remove_prefix(1);
  while (!rest.empty()) {
    const auto amp = rest.find('&');
    const std::string_view pair = rest.substr(0, amp);
    const auto eq = pair.find('=');
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
    if (name == "$rid") reply.rid = std::string(value);
    if (name == "retry-after") reply.retry_after = std::string(value);
    if (amp == std::string_view::npos) break;
    rest = rest.substr(amp + 1);
  }
  return reply;
}

}  // namespace edgeprov::dps
