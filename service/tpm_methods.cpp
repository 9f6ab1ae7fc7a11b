#include "service/tpm_methods.h"


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
  return ipc::RpcError{.code = ipc::errc::tpm_unavailable, .message = error.what(), .data = tpm::error_json(error)};
}

void register_tpm_methods(ipc::Dispatcher& dispatcher, tpm::Worker& worker, boost::asio::any_io_executor executor) {
  dispatcher.add_async("tpm.info", ipc::Access::local_user, [&worker, executor](ipc::Call, ipc::Reply reply) {
    worker.async_describe(executor, [reply = std::move(reply), tcti = worker.options().tcti](
                                        tpm::Result<tpm::Description> description) {
      if (!description.ok()) {
        reply(to_rpc_error(description.error()));
        return;
      }
      const auto& d = description.value();
      reply(tpm::info_json(d.keys, d.info, tcti));
    });
  });
}

}  // namespace edgeprov::service
