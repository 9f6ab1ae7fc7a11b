// service/tpm_methods.h — the `tpm.info` RPC method (docs/tpm.md) and how the service's [tpm]
// configuration becomes the TPM module's options. The handler runs its TPM work on the TPM worker
// thread and never blocks the io thread; the reply holds public data only.
#pragma once
#include <boost/asio/any_io_executor.hpp>

#include "edge-config/config.h"
#include "ipc/dispatcher.h"
#include "tpm/worker.h"

namespace edgeprov::service {

tpm::Options tpm_options(const config::Config& config);

// A tpm::Error as a JSON-RPC error: code ipc::errc::tpm_unavailable (ipc::errc::busy when the TPM queue
// was full), the full message, and in `data` the kind, command, return code and fix (docs/tpm.md).
ipc::RpcError to_rpc_error(const tpm::Error& error);

// Registers `tpm.info` (any local user: administrators get a fresh read, others the worker's cached
// description). `worker` must outlive the dispatcher; results are completed through `executor` (the
// service's io_context).
void register_tpm_methods(ipc::Dispatcher& dispatcher, tpm::Worker& worker, boost::asio::any_io_executor executor);

}  // namespace edgeprov::service
