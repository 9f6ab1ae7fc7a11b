// service/provisioning_methods.h — the RPC methods that act on provisioning (docs/ipc-api.md): `reprovision`
// (admin) and `identity.get` / `identity.sasToken` / `identity.sign` (admin or identity principals).
// Tokens and signatures go to the caller only: never into a log.
#pragma once
#include <boost/asio/any_io_executor.hpp>

#include "ipc/dispatcher.h"
#include "service/method_params.h"
#include "service/methods.h"
#include "service/provisioner.h"

namespace edgeprov::service {

// Handlers hop onto `executor` (the io thread, where the Provisioner lives) before touching it.
void register_provisioning_methods(ipc::Dispatcher& dispatcher, Provisioner& provisioner,
                                   const MethodContext& context, boost::asio::any_io_executor executor);

}  // namespace edgeprov::service
