// tpm/worker.h — the one thread that owns the TPM connection (ESAPI blocks). Callers on an io_context
// get results posted back to their executor; edgeprovctl and tests use the blocking calls. A lost
// connection (simulator restarted, device reset) is dropped and opened again on the next call.
// Its queue is bounded and ordered by priority (tpm/job_queue.h): provisioning and signing go first,
// and what local users may cause is answered from a cached description, refreshed at most once at a
// time at the lowest priority. Never blocks the caller's executor; snapshot() never waits on the TPM.
#pragma once
#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>
#include <vector>

#include "common/time.h"
#include "tpm/device.h"
#include "tpm/job_queue.h"

namespace edgeprov::tpm {

// A value or the tpm::Error that prevented it.
template <typename T>
class Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit by design
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}  // NOLINT
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  const T& value() const& {
    if (!ok()) throw std::get<1>(v_);
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) throw std::get<1>(v_);
    return std::get<0>(std::move(v_));
  }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// Everything `tpm.info` shows, read in one trip to the TPM thread.
struct Description {
  PublicKeys keys;
  Info info;
  SystemTime read_at{};  // when it was read from the TPM
};

// A cached description is read again once anything may have changed it (a key created or imported, a
// failed command, a new connection) or once it is this old, whichever comes first.
inline constexpr std::chrono::seconds description_max_age{30};
// A refresh that failed answers the callers of the next seconds with the same error rather than
// sending the TPM (or a TCTI that cannot reach it) another attempt for each of them.
inline constexpr std::chrono::seconds failed_description_hold{5};
// Callers waiting for the one refresh in progress; more are refused (busy) rather than queued.
inline constexpr std::size_t max_description_waiters = 256;

class Worker {
 public:
  using Executor = boost::asio::any_io_executor;
  template <typename T>
  using Handler = std::function<void(Result<T>)>;

  // Starts the thread; the TPM is opened on the first call, not here.
  explicit Worker(Options options, QueueCapacity capacity = {});
  ~Worker();  // finishes the running call; queued asynchronous calls get an error
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Blocking calls (edgeprovctl, tests, benchmarks), at Priority::credential. Throw tpm::Error.
  PublicKeys keys();
  Info info();
  TransientKey load_key(Bytes blob);
  ImportedKey persist_key(TransientKey key);
  Sha256Digest sign(SigningKey key, Bytes data);
  Description describe();

  // Asynchronous calls: the work runs on the TPM thread, `done` is posted to `executor`. Keys, the DPS
  // key calls and signing are credential work; info and describe run at the priority given. A call whose
  // priority's queue is full completes at once with an Error of kind busy. The DPS key calls are
  // Device's (tpm/device.h): a transient key lives in the connection that loaded it, so after a
  // reconnect using it fails with transient_key_lost.
  void async_keys(Executor executor, Handler<PublicKeys> done);
  void async_info(Executor executor, Handler<Info> done, Priority priority = Priority::administrator);
  void async_load_key(Bytes blob, Executor executor, Handler<TransientKey> done);
  void async_persist_key(TransientKey key, Executor executor, Handler<ImportedKey> done);
  void async_sign(SigningKey key, Bytes data, Executor executor, Handler<Sha256Digest> done);
  void async_describe(Executor executor, Handler<Description> done, Priority priority = Priority::administrator);
  // The last description read (by any describe), when nothing changed since and it is younger than
  // description_max_age; else one refresh at Priority::local_user, which every caller meanwhile joins.
  // However many call it, the TPM sees at most one describe at a time on its behalf.
  void async_cached_description(Executor executor, Handler<Description> done);
  // Flushes `key` if it is still loaded; nobody waits for it and a failure changes nothing. Queued at
  // Priority::credential but never refused for a full queue: a key left loaded would hold a TPM slot.
  void flush_key(TransientKey key);

  // What the last calls found out; for `status`, which must never wait on the TPM.
  struct Snapshot {
    bool available = false;                      // the last call reached the TPM
    std::string tcti;
    std::optional<std::string> registration_id;  // once keys() succeeded
    std::optional<bool> auth_key_present;        // once known
    std::optional<std::string> last_error;       // the last call's error message, if it failed
    unsigned connects = 0;                       // connections opened (1 + reconnects)
  };
  Snapshot snapshot() const;
  const Options& options() const { return options_; }

 private:
  std::function<PublicKeys(Device&)> keys_job();
  std::function<Info(Device&)> info_job();
  std::function<TransientKey(Device&)> load_job(Bytes blob);
  std::function<ImportedKey(Device&)> persist_job(TransientKey key);
  std::function<Sha256Digest(Device&)> sign_job(SigningKey key, Bytes data);
  std::function<Description(Device&)> describe_job();
  template <typename T>
  Result<T> execute(const std::function<T(Device&)>& job);
  template <typename T>
  T call(std::function<T(Device&)> job);
  template <typename T>
  void post(Priority priority, std::function<T(Device&)> job, Executor executor, Handler<T> done);
  // A task runs with nullptr, or is answered with the reason it will not run (queue full, stopping).
  using Task = std::function<void(const Error* refused)>;
  enum class Bound { capacity, never_refused };  // never_refused: flush_key only (JobQueue::push_always)
  void enqueue(Priority priority, Task task, Bound bound = Bound::capacity);
  void finish_refresh(const Result<Description>& result);
  void changed();  // what describe() reads may have changed: the cached description is stale
  void run();

  Options options_;
  std::unique_ptr<Device> device_;  // touched only on the thread

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  JobQueue<Task> queue_;
  bool stopping_ = false;
  Snapshot snapshot_;
  // The cached description (guarded by mutex_): valid while generation_ has not moved since it was read.
  std::optional<Description> cached_;
  std::chrono::steady_clock::time_point cached_at_{};
  std::uint64_t cached_generation_ = 0;
  std::uint64_t generation_ = 0;
  std::optional<Error> refresh_error_;  // the last refresh's failure, answered for failed_description_hold
  std::chrono::steady_clock::time_point refresh_error_at_{};
  std::vector<std::function<void(Result<Description>)>> refresh_waiters_;  // empty: no refresh queued
  std::thread thread_;
};

}  // namespace edgeprov::tpm
