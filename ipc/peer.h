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

// The caller as messages name it: "alice (uid 1000)", "DESKTOP\\bob (S-1-5-21-…)", "uid 1000" when the
// user database has no name, "an unidentified caller" when the OS could not say.
std::string describe_caller(const Peer& peer);

// The policy that sets Peer::admin and Peer::identity_principal (pure; unit-tested). The names of the
// configuration are resolved once, at start-up (service/lifecycle_*.cpp), so a decision per connection
// never asks the user database and a renamed account cannot change who is allowed while the service runs.
struct AdminPolicy {
  std::optional<std::uint32_t> admin_gid;  // POSIX: members of this group are admins; uid 0 always is
  // [edgeprov.ipc] identity_principals, resolved. POSIX: a name may be a user, a group, or both.
  std::vector<std::uint32_t> identity_uids;
  std::vector<std::uint32_t> identity_gids;
  std::vector<std::string> identity_sids;  // Windows: user or group SIDs ("S-1-5-21-…")
};
bool is_admin_posix(const Peer& peer, const AdminPolicy& policy);
// Windows: LocalSystem (S-1-5-18) or a member of BUILTIN\Administrators (S-1-5-32-544) with the group enabled.
bool is_admin_windows(const Peer& peer);

// POSIX: the caller's uid is listed, or its primary or a supplementary group is.
bool is_identity_principal_posix(const Peer& peer, const AdminPolicy& policy);
// Windows: the caller's user SID is listed, or one of the groups enabled in its token is.
bool is_identity_principal_windows(const Peer& peer, const AdminPolicy& policy);

}  // namespace edgeprov::ipc
