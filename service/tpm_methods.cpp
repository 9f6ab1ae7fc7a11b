#include "service/tpm_methods.h"

#include "common/time.h"
#include "tpm/json.h"

namespace edgeprov::service {

tpm::Options tpm_options(const config::Config& config) {
  tpm::Options options;
  options.tcti = config.tpm.tcti;
  options.auth_key_index = config.tpm.auth_key_index;
  options.endorsement_auth = config.tpm.endorsement_auth;
  options.owner_auth = config.tpm.owner_auth;
  if (!config.source_file.empty()) options.config_file = config.source_file.string();
  return options;
}

ipc::RpcError to_rpc_error(const tpm::Error& error) {
  // A full queue is the service being busy, not the TPM failing: the caller retries (-32003).
  const int code = error.kind() == tpm::ErrorKind::busy ? ipc::errc::busy : ipc::errc::tpm_unavailable;
  return ipc::RpcError{.code = code, .message = error.what(), .data = tpm::error_json(error)};
}

void register_tpm_methods(ipc::Dispatcher& dispatcher, tpm::Worker& worker, boost::asio::any_io_executor executor) {
  dispatcher.add_async("tpm.info", ipc::Access::local_user, [&worker, executor](ipc::Call call, ipc::Reply reply) {
    auto answer = [reply = std::move(reply), tcti = worker.options().tcti](tpm::Result<tpm::Description> description) {
      if (!description.ok()) {
        reply(to_rpc_error(description.error()));
        return;
      }
      const auto& d = description.value();
      auto result = tpm::info_json(d.keys, d.info, tcti);
      result["readAt"] = to_rfc3339(d.read_at);
      reply(std::move(result));
    };
    // Administrators read the TPM now; everyone else gets the cached description, so no number of local
    // callers can put TPM work in front of a registration or a signature (docs/ipc-api.md, tpm.info).
    if (call.peer.admin) {
      worker.async_describe(executor, std::move(answer), tpm::Priority::administrator);
    } else {
      worker.async_cached_description(executor, std::move(answer));
    }
  });
}

}  // namespace edgeprov::service
