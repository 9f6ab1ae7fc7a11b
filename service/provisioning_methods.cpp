#include "service/provisioning_methods.h"

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "common/encoding.h"
#include "common/time.h"
#include "dps/sas.h"
#include "service/method_params.h"
#include "service/tpm_methods.h"

namespace edgeprov::service {

using nlohmann::json;

namespace {

ipc::RpcError not_provisioned(const std::string& method) {
  return ipc::RpcError{ipc::errc::not_provisioned,
                       "'" + method + "' needs an assignment and the device has none yet: see edgeprovctl status, "
                                      "or wait with edgeprovctl wait",
                       nullptr};
}

// A TPM failure is -32010 with the TPM's details, or -32003 when the TPM's queue was full (as tpm.info
// answers them); anything else is the configuration's (an X.509 device has no key, the identity is not
// known yet).
ipc::RpcError sign_error(const dps::Error& error) {
  if (const auto* tpm = std::get_if<tpm::Error>(&error.cause)) {
    auto rpc = to_rpc_error(*tpm);
    rpc.message = error.message;
    return rpc;
  }
  return ipc::RpcError{ipc::errc::internal_error, error.message, dps::to_json(error)};
}

// The identity that signs for identity.sasToken / identity.sign; std::nullopt after answering why there
// is none (no assignment yet, or an X.509 device whose certificate is its only credential).
std::optional<DeviceIdentity> signing_identity(const Provisioner& provisioner, const std::string& method,
                                               const ipc::Reply& reply, const char* x509_message) {
  auto identity = provisioner.identity();
  if (!identity) {
    reply(not_provisioned(method));
    return std::nullopt;
  }
  if (!identity->signs) {
    reply(ipc::RpcError{ipc::errc::not_supported, x509_message, nullptr});
    return std::nullopt;
  }
  return identity;
}

ipc::RpcError attempt_failed(const dps::Error& error, const StatusSnapshot& status) {
  return ipc::RpcError{
      ipc::errc::provisioning_failed, error.message,
      json{{"state", to_string(status.state)},
           {"error", dps::to_json(error)},
           {"nextAttemptAt", status.next_attempt_at ? json(to_rfc3339(*status.next_attempt_at)) : json(nullptr)}}};
}

}  // namespace

void register_provisioning_methods(ipc::Dispatcher& dispatcher, Provisioner& provisioner,
                                   const MethodContext& context, boost::asio::any_io_executor executor) {
  dispatcher.add_async("reprovision", ipc::Access::admin,
                       [&provisioner, &context, executor](ipc::Call call, ipc::Reply reply) {
                         const bool wait = parse_reprovision_params(call.params).wait;
                         spdlog::info("reprovision requested by {}", call.peer.name.empty() ? "a local admin"
                                                                                             : call.peer.name);
                         boost::asio::post(executor, [&provisioner, &context, wait, reply = std::move(reply)] {
                           if (!wait) {
                             provisioner.reprovision({});
                             reply(status_json(context));
                             return;
                           }
                           provisioner.reprovision([&context, reply](AttemptResult result) {
                             if (result.assigned) {
                               reply(status_json(context));
                               return;
                             }
                             reply(attempt_failed(*result.error, *context.status.current()));
                           });
                         });
                       });

  dispatcher.add_async("identity.get", ipc::Access::identity,
                       [&provisioner, executor](ipc::Call call, ipc::Reply reply) {
                         checked_params(call.method, call.params, {});
                         boost::asio::post(executor, [&provisioner, method = call.method, reply = std::move(reply)] {
                           auto identity = provisioner.identity();
                           if (!identity) {
                             reply(not_provisioned(method));
                             return;
                           }
                           reply(json{{"hub", identity->hub},
                                      {"deviceId", identity->device_id},
                                      {"registrationId", identity->registration_id},
                                      {"authType", identity->signs ? "sas" : "x509"},
                                      {"keySource", identity->key_source},
                                      {"assignedAt", to_rfc3339(identity->assigned_at)},
                                      {"source", to_string(identity->source)}});
                         });
                       });

  dispatcher.add_async(
      "identity.sasToken", ipc::Access::identity, [&provisioner, executor](ipc::Call call, ipc::Reply reply) {
        const std::chrono::seconds lifetime = parse_sas_token_params(call.params).lifetime;
        boost::asio::post(executor, [&provisioner, lifetime, method = call.method, reply = std::move(reply)] {
          auto identity = signing_identity(provisioner, method, reply,
                                           "this device authenticates to its hub with its X.509 certificate; "
                                           "there is no SAS token to issue");
          if (!identity) return;
          const auto expiry = dps::sas_expiry(std::chrono::system_clock::now(), lifetime);
          dps::SasParams sas{.resource_uri = dps::hub_resource_uri(identity->hub, identity->device_id),
                             .expiry_unix_seconds = expiry,
                             .key_name = std::nullopt,
                             .style = dps::SasStyle::c_sdk_hub};
          const std::string to_sign =
              dps::string_to_sign(dps::encode_sr(sas.resource_uri, sas.style), sas.expiry_unix_seconds);
          provisioner.async_sign(to_sign, [sas, identity = *identity, reply](auto signed_data) {
            if (const auto* error = std::get_if<dps::Error>(&signed_data)) {
              reply(sign_error(*error));
              return;
            }
            const Secret token = dps::assemble_sas_token(sas, std::get<Sha256Digest>(signed_data));
            reply(json{{"token", token.reveal()},
                       {"expiresAt", to_rfc3339(SystemTime(std::chrono::seconds(sas.expiry_unix_seconds)))},
                       {"hub", identity.hub},
                       {"deviceId", identity.device_id}});
          });
        });
      });

  dispatcher.add_async("identity.sign", ipc::Access::identity, [&provisioner, executor](ipc::Call call,
                                                                                        ipc::Reply reply) {
    const Bytes decoded = parse_sign_params(call.params).data;
    boost::asio::post(executor, [&provisioner, data = edgeprov::to_string(ByteView(decoded)), method = call.method,
                                 reply = std::move(reply)]() mutable {
      if (!signing_identity(provisioner, method, reply,
                            "this device authenticates with its X.509 certificate and holds no key to sign with"))
        return;
      provisioner.async_sign(std::move(data), [reply](auto signed_data) {
        if (const auto* error = std::get_if<dps::Error>(&signed_data)) {
          reply(sign_error(*error));
          return;
        }
        const auto& mac = std::get<Sha256Digest>(signed_data);
        reply(json{{"signature", base64_encode(mac)}, {"algorithm", "HMAC-SHA256"}});
      });
    });
  });
}

}  // namespace edgeprov::service
