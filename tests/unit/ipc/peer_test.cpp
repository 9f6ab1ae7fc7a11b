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

namespace {

AdminPolicy principals_posix(std::vector<std::uint32_t> uids, std::vector<std::uint32_t> gids) {
  AdminPolicy policy;
  policy.identity_uids = std::move(uids);
  policy.identity_gids = std::move(gids);
  return policy;
}

AdminPolicy principals_windows(std::vector<std::string> sids) {
  AdminPolicy policy;
  policy.identity_sids = std::move(sids);
  return policy;
}

}  // namespace

TEST_CASE("a listed user is an identity principal") {
  CHECK(is_identity_principal_posix(posix(1001, 1001), principals_posix({1001}, {})));
}

TEST_CASE("a member of a listed group by primary or supplementary gid is an identity principal") {
  CHECK(is_identity_principal_posix(posix(1002, 995), principals_posix({}, {995})));
  CHECK(is_identity_principal_posix(posix(1002, 1002, {27, 995}), principals_posix({}, {995})));
}

TEST_CASE("a user neither listed nor in a listed group is not an identity principal") {
  CHECK_FALSE(is_identity_principal_posix(posix(1003, 1003, {27}), principals_posix({1001}, {995})));
  // A uid that equals a listed gid is a different principal.
  CHECK_FALSE(is_identity_principal_posix(posix(995, 1003), principals_posix({}, {995})));
  // A gid that equals a listed uid likewise.
  CHECK_FALSE(is_identity_principal_posix(posix(1003, 1001, {1001}), principals_posix({1001}, {})));
}

TEST_CASE("with no identity principals configured nobody is one, not even root (root is an admin instead)") {
  CHECK_FALSE(is_identity_principal_posix(posix(0, 0), AdminPolicy{}));
  CHECK_FALSE(is_identity_principal_windows(windows("S-1-5-18", {"S-1-5-32-544"}), AdminPolicy{}));
}

TEST_CASE("a caller whose uid the OS did not report is never an identity principal") {
  Peer peer;
  peer.gid = 995;
  peer.supplementary_gids = {995};
  CHECK_FALSE(is_identity_principal_posix(peer, principals_posix({}, {995})));
}

TEST_CASE("identity principals do not make anyone an admin") {
  auto policy = principals_posix({1001}, {995});
  CHECK_FALSE(is_admin_posix(posix(1001, 995), policy));
}

TEST_CASE("a listed Windows user SID is an identity principal, compared without regard to case") {
  const auto policy = principals_windows({"S-1-5-21-1-2-3-1001"});
  CHECK(is_identity_principal_windows(windows("S-1-5-21-1-2-3-1001", {"S-1-1-0"}), policy));
  CHECK(is_identity_principal_windows(windows("s-1-5-21-1-2-3-1001", {}), policy));
}

TEST_CASE("a Windows caller with a listed group enabled is an identity principal") {
  const auto policy = principals_windows({"S-1-5-21-1-2-3-2001"});
  CHECK(is_identity_principal_windows(windows("S-1-5-21-1-2-3-1005", {"S-1-1-0", "S-1-5-21-1-2-3-2001"}), policy));
}

TEST_CASE("a Windows caller whose SIDs only resemble a listed one is not an identity principal") {
  const auto policy = principals_windows({"S-1-5-21-1-2-3-1001"});
  CHECK_FALSE(is_identity_principal_windows(windows("S-1-5-21-1-2-3-10010", {"S-1-5-21-1-2-3-100"}), policy));
  CHECK_FALSE(is_identity_principal_windows(windows("S-1-5-21-1-2-3-1002", {}), policy));
  // Without a user SID the token was not read: the groups are not trusted either.
  Peer unidentified;
  unidentified.group_sids = {"S-1-5-21-1-2-3-1001"};
  CHECK_FALSE(is_identity_principal_windows(unidentified, policy));
}
