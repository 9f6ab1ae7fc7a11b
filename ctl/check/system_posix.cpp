#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ctl/check/system.h"

namespace edgeprov::ctl::check {

bool posix_permissions() { return true; }

std::string group_name(std::uint32_t gid) {
  std::vector<char> buffer(16 * 1024);
  group entry{};
  group* found = nullptr;
  if (getgrgid_r(gid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) return found->gr_name;
  return std::to_string(gid);
}

namespace {
std::string user_name(std::uint32_t uid) {
  std::vector<char> buffer(16 * 1024);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found) return found->pw_name;
  return std::to_string(uid);
}
}  // namespace

FileFacts file_facts(const std::filesystem::path& path) {
  FileFacts facts;
  facts.path = path;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    facts.error = errno == ENOENT || errno == ENOTDIR ? 0 : errno;
    return facts;
  }
  facts.exists = true;
  facts.directory = S_ISDIR(st.st_mode);
  facts.socket = S_ISSOCK(st.st_mode);
  facts.character_device = S_ISCHR(st.st_mode);
  facts.mode = st.st_mode & 07777;
  facts.uid = st.st_uid;
  facts.gid = st.st_gid;
  facts.owner = user_name(st.st_uid);
  facts.group = group_name(st.st_gid);
  return facts;
}

std::vector<FileFacts> path_chain(const std::filesystem::path& path) {
  const auto absolute = std::filesystem::absolute(path).lexically_normal();
  std::vector<FileFacts> chain;
  std::filesystem::path walked;
  for (const auto& part : absolute) {
    walked /= part;
    chain.push_back(file_facts(walked));
  }
  return chain;
}

std::optional<Account> account(const std::string& name) {
  std::vector<char> buffer(16 * 1024);
  passwd entry{};
  passwd* found = nullptr;
  if (getpwnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) return std::nullopt;
  Account out{.name = name, .uid = found->pw_uid, .gids = {}};
  std::vector<gid_t> groups(64);
  int count = static_cast<int>(groups.size());
  if (getgrouplist(found->pw_name, found->pw_gid, groups.data(), &count) == -1) {
    groups.resize(static_cast<std::size_t>(count));
    if (getgrouplist(found->pw_name, found->pw_gid, groups.data(), &count) == -1) count = 0;
  }
  out.gids.push_back(found->pw_gid);
  for (int i = 0; i < count; ++i)
    if (groups[static_cast<std::size_t>(i)] != found->pw_gid) out.gids.push_back(groups[static_cast<std::size_t>(i)]);
  return out;
}

std::optional<std::uint32_t> group_id(const std::string& name) {
  std::vector<char> buffer(16 * 1024);
  group entry{};
  group* found = nullptr;
  if (getgrnam_r(name.c_str(), &entry, buffer.data(), buffer.size(), &found) != 0 || !found) return std::nullopt;
  return found->gr_gid;
}

Account this_process() {
  Account out{.name = user_name(::geteuid()), .uid = ::geteuid(), .gids = {::getegid()}};
  std::vector<gid_t> groups(static_cast<std::size_t>(std::max(::getgroups(0, nullptr), 0)));
  const int count = ::getgroups(static_cast<int>(groups.size()), groups.data());
  for (int i = 0; i < count; ++i)
    if (groups[static_cast<std::size_t>(i)] != ::getegid()) out.gids.push_back(groups[static_cast<std::size_t>(i)]);
  return out;
}

int connect_error(const std::string& endpoint) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (endpoint.size() >= sizeof(address.sun_path)) return ENAMETOOLONG;
  std::memcpy(address.sun_path, endpoint.data(), endpoint.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno;
  const int result = ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address));
  const int error = result == 0 ? 0 : errno;
  ::close(fd);
  return error;
}

std::string error_text(int error) { return std::strerror(error); }

}  // namespace edgeprov::ctl::check
