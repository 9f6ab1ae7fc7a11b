// ipc/peer.h — who is on the other end of a local connection, as the OS says (never as the client says).
// Filled by the listener's platform leaf: SO_PEERCRED on Linux, the impersonated token on Windows.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace edgeprov::ipc {

struct Peer {
  std::optional<std::uint32_t> pid;
  std::optional<std::uint32_t> uid;           // POSIX
  std::optional<std::uint32_t> gid;           // POSIX primary group
  std::vector<std::uint32_t> supplementary_gids;  // POSIX
  std::optional<std::string> sid;             // Windows user SID ("S-1-5-18" = SYSTEM)
  std::vector<std::string> group_sids;        // Windows enabled group SIDs
  std::string name;                           // user name for logs ("root", "NT AUTHORITY\\SYSTEM")
  bool admin = false;                         // decided by the listener's authorization policy
  bool identity_principal = false;            // named by [edgeprov.ipc] identity_principals (listener policy)
};

// The policy that sets Peer::admin (pure; unit-tested).
struct AdminPolicy {
  std::optional<std::uint32_t> admin_gid;  // POSIX: members of this group are admins; uid 0 always is
};
bool is_admin_posix(const Peer& peer, const AdminPolicy& policy);
// Windows: LocalSystem (S-1-5-18) or a member of BUILTIN\Administrators (S-1-5-32-544) with the group enabled.
bool is_admin_windows(const Peer& peer);

}  // namespace edgeprov::ipc
