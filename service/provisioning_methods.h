// service/provisioning_methods.h — the RPC methods that act on provisioning (docs/ipc-api.md): `reprovision`
// (admin) and `identity.get` / `identity.sasToken` / `identity.sign` (admin or identity principals).
// Tokens and signatures go to the caller only: never into a log.
#pragma once
#include <boost/asio/any_io_executor.hpp>

#include "ipc/dispatcher.h"
#include "service/methods.h"
#include "service/provisioner.h"

namespace edgeprov::service {

inline constexpr std::size_t max_sign_bytes = 16 * 1024;  // identity.sign: decoded data
inline constexpr std::chrono::seconds min_sas_lifetime{60};
inline constexpr std::chrono::seconds max_sas_lifetime{24 * 3600};

// Handlers hop onto `executor` (the io thread, where the Provisioner lives) before touching it.
void register_provisioning_methods(ipc::Dispatcher& dispatcher, Provisioner& provisioner,
                                   const MethodContext& context, boost::asio::any_io_executor executor);

}  // namespace edgeprov::service
