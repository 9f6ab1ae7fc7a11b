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

bool contains(const std::vector<std::uint32_t>& ids, std::uint32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

bool any_sid_in(const std::vector<std::string>& listed, std::string_view sid) {
  return std::any_of(listed.begin(), listed.end(), [sid](const std::string& entry) { return same_sid(entry, sid); });
}

}  // namespace

std::string describe_caller(const Peer& peer) {
  std::string text;
  if (!peer.name.empty()) text = peer.name;
  if (peer.sid) {
    text += (text.empty() ? "" : " ") + std::string("(") + *peer.sid + ")";
  } else if (peer.uid) {
    text += (text.empty() ? "uid " : " (uid ") + std::to_string(*peer.uid) + (text.empty() ? "" : ")");
  }
  return text.empty() ? "an unidentified caller" : text;
}

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

bool is_identity_principal_posix(const Peer& peer, const AdminPolicy& policy) {
  // No uid from the kernel means SO_PEERCRED failed: then the groups are not the kernel's word either.
  if (!peer.uid) return false;
  if (contains(policy.identity_uids, *peer.uid)) return true;
  if (peer.gid && contains(policy.identity_gids, *peer.gid)) return true;
  return std::any_of(peer.supplementary_gids.begin(), peer.supplementary_gids.end(),
                     [&](std::uint32_t gid) { return contains(policy.identity_gids, gid); });
}

bool is_identity_principal_windows(const Peer& peer, const AdminPolicy& policy) {
  if (!peer.sid) return false;
  if (any_sid_in(policy.identity_sids, *peer.sid)) return true;
  // group_sids holds only enabled, not deny-only groups (see is_admin_windows).
  return std::any_of(peer.group_sids.begin(), peer.group_sids.end(),
                     [&](const std::string& sid) { return any_sid_in(policy.identity_sids, sid); });
}

}  // namespace edgeprov::ipc
