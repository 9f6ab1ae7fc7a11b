// The admin decisions, kept pure so both platforms' rules are tested on any machine.
#include "ipc/peer.h"

#include <algorithm>
#include <cctype>
#include <string_view>

namespace edgeprov::ipc {
namespace {

constexpr std::string_view local_system_sid = "S-1-5-18";
constexpr std::string_view administrators_sid = "S-1-5-32-544";

bool same_sid(std::string_view a, std::string_view b) {
  // SID strings are case-insensitive in their "S-" prefix only, but compare the whole string that way
  // so a lowercase rendering from another API cannot slip past.
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::toupper(static_cast<unsigned char>(x)) == std::toupper(static_cast<unsigned char>(y));
         });
}

}  // namespace

bool is_admin_posix(const Peer& peer, const AdminPolicy& policy) {
  if (!peer.uid) return false;
  if (*peer.uid == 0) return true;
  if (!policy.admin_gid) return false;
  if (peer.gid && *peer.gid == *policy.admin_gid) return true;
  return std::find(peer.supplementary_gids.begin(), peer.supplementary_gids.end(), *policy.admin_gid) !=
         peer.supplementary_gids.end();
}

bool is_admin_windows(const Peer& peer) {
  if (peer.sid && same_sid(*peer.sid, local_system_sid)) return true;
  // group_sids holds only the groups enabled in the caller's token: a UAC-filtered token lists
  // Administrators as deny-only, so the listener leaves it out and the caller is not an admin.
  return std::any_of(peer.group_sids.begin(), peer.group_sids.end(),
                     [](const std::string& sid) { return same_sid(sid, administrators_sid); });
}

}  // namespace edgeprov::ipc
