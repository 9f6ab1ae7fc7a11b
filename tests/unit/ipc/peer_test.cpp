#include <catch2/catch_test_macros.hpp>

#include "ipc/peer.h"

using namespace edgeprov::ipc;

namespace {

Peer posix(std::uint32_t uid, std::uint32_t gid, std::vector<std::uint32_t> supplementary = {}) {
  Peer peer;
  peer.uid = uid;
  peer.gid = gid;
  peer.supplementary_gids = std::move(supplementary);
  return peer;
}

Peer windows(std::string sid, std::vector<std::string> groups) {
  Peer peer;
  peer.sid = std::move(sid);
  peer.group_sids = std::move(groups);
  return peer;
}

}  // namespace

TEST_CASE("uid 0 is an admin with or without an admin group") {
  CHECK(is_admin_posix(posix(0, 0), AdminPolicy{}));
  CHECK(is_admin_posix(posix(0, 0), AdminPolicy{990}));
}

TEST_CASE("a member of the configured group by primary gid is an admin") {
  CHECK(is_admin_posix(posix(1000, 990), AdminPolicy{990}));
}

TEST_CASE("a member of the configured group by a supplementary gid is an admin") {
  CHECK(is_admin_posix(posix(1000, 1000, {24, 990, 1001}), AdminPolicy{990}));
}

TEST_CASE("another user is not an admin") {
  CHECK_FALSE(is_admin_posix(posix(1000, 1000, {24, 27}), AdminPolicy{990}));
  CHECK_FALSE(is_admin_posix(posix(65534, 65534), AdminPolicy{990}));
}

TEST_CASE("without a configured admin group only root is an admin, whatever the groups") {
  CHECK_FALSE(is_admin_posix(posix(1000, 0, {0}), AdminPolicy{}));
}

TEST_CASE("a caller whose uid the OS did not report is never an admin") {
  Peer peer;
  peer.gid = 990;
  CHECK_FALSE(is_admin_posix(peer, AdminPolicy{990}));
}

TEST_CASE("LocalSystem is a Windows admin") {
  CHECK(is_admin_windows(windows("S-1-5-18", {})));
}

TEST_CASE("a caller with the Administrators group enabled is a Windows admin") {
  CHECK(is_admin_windows(windows("S-1-5-21-1-2-3-500", {"S-1-1-0", "S-1-5-32-544", "S-1-5-11"})));
}

TEST_CASE("a standard user or a filtered admin token without Administrators enabled is not a Windows admin") {
  CHECK_FALSE(is_admin_windows(windows("S-1-5-21-1-2-3-1001", {"S-1-1-0", "S-1-5-32-545", "S-1-5-11", "S-1-5-4"})));
  // Similar-looking SIDs must not match: Administrators' RID is exactly 544.
  CHECK_FALSE(is_admin_windows(windows("S-1-5-21-1-2-3-1001", {"S-1-5-32-5440", "S-1-5-32-54"})));
  CHECK_FALSE(is_admin_windows(windows("S-1-5-19", {})));  // LocalService
  CHECK_FALSE(is_admin_windows(windows("S-1-5-20", {})));  // NetworkService
}

TEST_CASE("SID comparison ignores letter case") {
  CHECK(is_admin_windows(windows("s-1-5-18", {})));
}

TEST_CASE("a caller without any identity is not an admin on either platform") {
  CHECK_FALSE(is_admin_windows(Peer{}));
  CHECK_FALSE(is_admin_posix(Peer{}, AdminPolicy{0}));
}
