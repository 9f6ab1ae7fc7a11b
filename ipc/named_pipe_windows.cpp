// The named-pipe listener. Who may open the pipe is fixed by an explicit DACL (never the default one,
// which depends on the service account); remote clients are rejected by the pipe itself; the first
// instance is created with FILE_FLAG_FIRST_PIPE_INSTANCE so no other process can own the name first.
// What a caller may do is decided per method from its token, read by impersonating it just long
// enough to open the token (RevertToSelf always follows). Until the pipe allows impersonation (before
// the client's first write) the caller is known by its process's token: that identity is what a
// connection is charged to (ipc/admission.h), so a connection is admitted or refused the moment it
// arrives, whoever holds the other connections.
#include <windows.h>
#include <sddl.h>

#include <cstdlib>
#include <memory>
#include <system_error>
#include <vector>

#include <boost/asio/strand.hpp>
#include <boost/asio/windows/overlapped_ptr.hpp>
#include <boost/asio/windows/stream_handle.hpp>
#include <boost/asio/write.hpp>
#include <spdlog/spdlog.h>

#include "ipc/listener.h"
#include "ipc/windows_text.h"

namespace edgeprov::ipc {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
using detail::to_utf8;
using detail::to_wide;

// D:P        protected DACL: nothing inherited
// (D;;GA;;;NU)        NETWORK logons denied everything (belt and braces with PIPE_REJECT_REMOTE_CLIENTS)
// (A;;GA;;;SY)        LocalSystem full control
// (A;;GA;;;BA)        Administrators full control
// (A;;0x12019b;;;AU)  Authenticated Users read/write: FILE_GENERIC_READ | FILE_WRITE_DATA | FILE_WRITE_EA |
//                     FILE_WRITE_ATTRIBUTES, deliberately without FILE_APPEND_DATA, which for a pipe is
//                     FILE_CREATE_PIPE_INSTANCE: GENERIC_WRITE would let any user add instances of our pipe
//                     and answer (and impersonate) the next client.
constexpr wchar_t pipe_sddl[] = L"D:P(D;;GA;;;NU)(A;;GA;;;SY)(A;;GA;;;BA)(A;;0x12019b;;;AU)";
constexpr DWORD pipe_buffer_bytes = 64 * 1024;

[[noreturn]] void fail(DWORD code, const std::string& what) {
  throw std::system_error(static_cast<int>(code), std::system_category(),
                          what + " (" + detail::win32_message(code) + ")");
}

struct HandleCloser {
  void operator()(HANDLE handle) const {
    if (handle && handle != INVALID_HANDLE_VALUE) ::CloseHandle(handle);
  }
};
using UniqueHandle = std::unique_ptr<void, HandleCloser>;

struct LocalFreer {
  void operator()(void* memory) const { ::LocalFree(memory); }
};

std::string sid_string(PSID sid) {
  wchar_t* text = nullptr;
  if (!::ConvertSidToStringSidW(sid, &text)) return {};
  std::string result = to_utf8(text);
  ::LocalFree(text);
  return result;
}

std::string account_name(PSID sid) {
  wchar_t name[256];
  wchar_t domain[256];
  DWORD name_size = 256;
  DWORD domain_size = 256;
  SID_NAME_USE use{};
  if (!::LookupAccountSidW(nullptr, sid, name, &name_size, domain, &domain_size, &use)) return {};
  std::wstring full = domain_size ? std::wstring(domain) + L"\\" + name : std::wstring(name);
  return to_utf8(full);
}

std::vector<unsigned char> token_information(HANDLE token, TOKEN_INFORMATION_CLASS which) {
  DWORD size = 0;
  ::GetTokenInformation(token, which, nullptr, 0, &size);
  if (size == 0) return {};
  std::vector<unsigned char> buffer(size);
  if (!::GetTokenInformation(token, which, buffer.data(), size, &size)) return {};
  return buffer;
}

// The caller's user, enabled groups and, from those, its rights, as `token` says.
void read_token(HANDLE token, const AdminPolicy& policy, Peer& peer) {
  auto user = token_information(token, TokenUser);
  if (!user.empty()) {
    PSID sid = reinterpret_cast<TOKEN_USER*>(user.data())->User.Sid;
    peer.sid = sid_string(sid);
    peer.name = account_name(sid);
  }
  auto groups = token_information(token, TokenGroups);
  if (!groups.empty()) {
    const auto* list = reinterpret_cast<TOKEN_GROUPS*>(groups.data());
    for (DWORD i = 0; i < list->GroupCount; ++i) {
      const DWORD attributes = list->Groups[i].Attributes;
      // Only groups that count for access checks: enabled and not deny-only (UAC-filtered admins
      // hold Administrators as deny-only).
      if ((attributes & SE_GROUP_ENABLED) && !(attributes & SE_GROUP_USE_FOR_DENY_ONLY)) {
        peer.group_sids.push_back(sid_string(list->Groups[i].Sid));
      }
    }
  }
  peer.admin = is_admin_windows(peer);
  peer.identity_principal = is_identity_principal_windows(peer, policy);
}

// Reads the caller's token by impersonating it. false when the pipe cannot impersonate yet (no data
// read so far): then it is tried again after the first read. On any other failure the caller is left
// unidentified, hence unprivileged.
bool identify(HANDLE pipe, const AdminPolicy& policy, Peer& peer) {
  peer = Peer{};
  ULONG pid = 0;
  if (::GetNamedPipeClientProcessId(pipe, &pid)) peer.pid = pid;

  if (!::ImpersonateNamedPipeClient(pipe)) {
    const DWORD err = ::GetLastError();
    if (err == ERROR_CANNOT_IMPERSONATE) return false;
    spdlog::warn("ipc: cannot identify the pipe client (pid {}): {}", pid, detail::win32_message(err));
    return true;  // identity unknown: the caller is treated as unprivileged
  }
  HANDLE raw_token = nullptr;
  // OpenAsSelf: the access check runs against the service's own token, not the client's.
  const BOOL opened = ::OpenThreadToken(::GetCurrentThread(), TOKEN_QUERY, TRUE, &raw_token);
  const DWORD open_error = ::GetLastError();
  if (!::RevertToSelf()) {
    // Running on as the client would be a privilege problem for everything after; stop hard.
    spdlog::critical("ipc: RevertToSelf failed ({}); exiting", detail::win32_message(::GetLastError()));
    std::abort();
  }
  if (!opened) {
    spdlog::warn("ipc: cannot open the pipe client's token (pid {}): {}", pid, detail::win32_message(open_error));
    return true;
  }
  UniqueHandle token(raw_token);
  read_token(raw_token, policy, peer);
  return true;
}

// Before the pipe allows impersonation: the client process's own token (its user, its enabled groups).
// Leaves `peer` unidentified when the process cannot be opened (it exited, or is protected).
void identify_process(const AdminPolicy& policy, Peer& peer) {
  if (!peer.pid) return;
  UniqueHandle process(::OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, FALSE, *peer.pid));
  HANDLE raw_token = nullptr;
  if (!process || !::OpenProcessToken(process.get(), TOKEN_QUERY, &raw_token)) {
    spdlog::debug("ipc: cannot read the token of the pipe client's process {}: {}", *peer.pid,
                  detail::win32_message(::GetLastError()));
    return;
  }
  UniqueHandle token(raw_token);
  read_token(raw_token, policy, peer);
}

class PipeStream final : public Stream {
 public:
  PipeStream(std::shared_ptr<asio::windows::stream_handle> handle, AdminPolicy policy, Peer peer, bool identified)
      : handle_(std::move(handle)), policy_(std::move(policy)), peer_(std::move(peer)), identified_(identified) {}
  ~PipeStream() override { close(); }

  asio::any_io_executor executor() override { return handle_->get_executor(); }

  void async_read_some(asio::mutable_buffer buffer, Handler handler) override {
    handle_->async_read_some(buffer, [this, handler = std::move(handler)](const error_code& ec, std::size_t n) {
      // `handler` holds the connection that owns this stream, so `this` is alive here.
      if (!ec && n > 0 && !identified_) identified_ = identify(handle_->native_handle(), policy_, peer_);
      handler(ec, n);
    });
  }
  void async_write(asio::const_buffer buffer, Handler handler) override {
    asio::async_write(*handle_, buffer, std::move(handler));
  }
  void close() override {
    error_code ignored;
    // Not DisconnectNamedPipe: that would discard an answer the client has not read yet.
    if (handle_->is_open()) handle_->close(ignored);
  }
  const Peer& peer() const override { return peer_; }

 private:
  std::shared_ptr<asio::windows::stream_handle> handle_;
  AdminPolicy policy_;
  Peer peer_;
  bool identified_;
};

class PipeListener final : public Listener {
 public:
  PipeListener(asio::io_context& io, const ServerOptions& options)
      : io_(io), endpoint_(options.endpoint), policy_(options.admin_policy) {}
  ~PipeListener() override { stop(); }

  void start() override {
    constexpr std::string_view prefix = "\\\\.\\pipe\\";
    if (endpoint_.size() <= prefix.size() || endpoint_.compare(0, prefix.size(), prefix) != 0) {
      fail(ERROR_INVALID_NAME, "the IPC endpoint '" + endpoint_ + "' is not a local pipe name: set [edgeprov.ipc] "
                                   "endpoint to \\\\.\\pipe\\<name>");
    }
    name_ = to_wide(endpoint_);
    PSECURITY_DESCRIPTOR descriptor = nullptr;
    if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(pipe_sddl, SDDL_REVISION_1, &descriptor, nullptr)) {
      fail(::GetLastError(), "cannot build the security descriptor of " + endpoint_);
    }
    descriptor_.reset(descriptor);
    // FILE_FLAG_FIRST_PIPE_INSTANCE (create_instance) is what guarantees the name is ours. Asking first
    // whether someone already serves it gives the same refusal where that flag is not enforced (Wine 8.0
    // creates another instance of the existing pipe instead), for the cost of one call.
    if (::WaitNamedPipeW(name_.c_str(), 1) || ::GetLastError() == ERROR_SEM_TIMEOUT) fail(ERROR_PIPE_BUSY, in_use());
    pending_ = create_instance(/*first=*/true);
    stopped_ = false;
  }

  void async_accept(AcceptHandler handler) override {
    if (stopped_) {
      asio::post(io_, [handler = std::move(handler)] { handler(asio::error::operation_aborted, Accepted{}); });
      return;
    }
    if (!pending_) {
      try {
        pending_ = create_instance(/*first=*/false);
      } catch (const std::system_error& error) {
        const error_code ec(error.code().value(), asio::error::get_system_category());
        asio::post(io_, [handler = std::move(handler), ec] { handler(ec, Accepted{}); });
        return;
      }
    }
    auto pipe = std::move(pending_);
    // The handler owns the instance and captures no `this`: a listener stopped or destroyed while a
    // connect is pending is never touched again.
    asio::windows::overlapped_ptr overlapped(
        pipe->get_executor(),
        [pipe, policy = policy_, handler = std::move(handler)](const error_code& ec, std::size_t) mutable {
          if (ec) {
            error_code ignored;
            pipe->close(ignored);
            handler(ec, Accepted{});
            return;
          }
          Peer peer;
          const bool identified = identify(pipe->native_handle(), policy, peer);
          if (!identified) identify_process(policy, peer);
          handler(ec, Accepted{std::make_unique<PipeStream>(std::move(pipe), std::move(policy), std::move(peer),
                                                            identified)});
        });
    current_ = pipe;
    const BOOL connected = ::ConnectNamedPipe(pipe->native_handle(), overlapped.get());
    const DWORD err = ::GetLastError();
    if (!connected && err == ERROR_PIPE_CONNECTED) {
      overlapped.complete(error_code(), 0);  // the client connected between create and connect
    } else if (!connected && err != ERROR_IO_PENDING) {
      overlapped.complete(error_code(static_cast<int>(err), asio::error::get_system_category()), 0);
    } else {
      overlapped.release();
    }
  }

  void stop() override {
    if (stopped_) return;
    stopped_ = true;
    error_code ignored;
    if (pending_) pending_->close(ignored);
    pending_.reset();
    if (auto current = current_.lock(); current && current->is_open()) {
      // Cancels a pending ConnectNamedPipe; a connected instance belongs to its connection by now.
      ::CancelIoEx(current->native_handle(), nullptr);
    }
    // Pipe instances vanish with their handles: nothing to remove from a file system.
  }

 private:
  std::string in_use() const {
    return "another edgeprovd is already listening on " + endpoint_ +
           " (or another program owns that pipe name): stop it, or set another [edgeprov.ipc] endpoint";
  }

  std::shared_ptr<asio::windows::stream_handle> create_instance(bool first) {
    SECURITY_ATTRIBUTES attributes{sizeof(SECURITY_ATTRIBUTES), descriptor_.get(), FALSE};
    const DWORD open_mode = PIPE_ACCESS_DUPLEX | FILE_FLAG_OVERLAPPED | (first ? FILE_FLAG_FIRST_PIPE_INSTANCE : 0);
    const DWORD pipe_mode = PIPE_TYPE_BYTE | PIPE_READMODE_BYTE | PIPE_WAIT | PIPE_REJECT_REMOTE_CLIENTS;
    HANDLE handle = ::CreateNamedPipeW(name_.c_str(), open_mode, pipe_mode, PIPE_UNLIMITED_INSTANCES,
                                       pipe_buffer_bytes, pipe_buffer_bytes, 0, &attributes);
    if (handle == INVALID_HANDLE_VALUE) {
      const DWORD err = ::GetLastError();
      if (first && (err == ERROR_ACCESS_DENIED || err == ERROR_PIPE_BUSY)) {
        fail(err, in_use());
      }
      fail(err, "cannot create the pipe " + endpoint_);
    }
    // Each instance runs on its own strand: a connection's handlers never run concurrently.
    return std::make_shared<asio::windows::stream_handle>(asio::make_strand(io_), handle);
  }

  asio::io_context& io_;
  std::string endpoint_;
  AdminPolicy policy_;
  std::wstring name_;
  std::unique_ptr<void, LocalFreer> descriptor_;
  std::shared_ptr<asio::windows::stream_handle> pending_;  // the instance the next client gets
  std::weak_ptr<asio::windows::stream_handle> current_;    // the instance a connect is pending on
  bool stopped_ = true;
};

}  // namespace

std::unique_ptr<Listener> make_listener(asio::io_context& io, const ServerOptions& options) {
  return std::make_unique<PipeListener>(io, options);
}

}  // namespace edgeprov::ipc
