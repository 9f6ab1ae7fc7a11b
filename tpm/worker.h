// tpm/worker.h — the one thread that owns the TPM connection (ESAPI blocks). Callers on an io_context
// get results posted back to their executor; edgeprovctl and tests use the blocking calls. A lost
// connection (simulator restarted, device reset) is dropped and opened again on the next call.
// Never blocks the caller's executor; snapshot() never waits on the TPM.
#pragma once
#include <boost/asio/any_io_executor.hpp>

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <variant>

#include "tpm/device.h"

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
};

class Worker {
 public:
  using Executor = boost::asio::any_io_executor;
  template <typename T>
  using Handler = std::function<void(Result<T>)>;

  // Starts the thread; the TPM is opened on the first call, not here.
  explicit Worker(Options options);
  ~Worker();  // finishes the running call; queued asynchronous calls get an error
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Blocking calls (edgeprovctl, tests, benchmarks). Throw tpm::Error.
  PublicKeys keys();
  Info info();
  TransientKey load_key(Bytes blob);
  ImportedKey persist_key(TransientKey key);
  Sha256Digest sign(SigningKey key, Bytes data);
  Description describe();

  // Asynchronous calls: the work runs on the TPM thread, `done` is posted to `executor`. Calls run one at
  // a time in the order they were made. The DPS key calls are Device's (tpm/device.h): a transient key
  // lives in the connection that loaded it, so after a reconnect using it fails with transient_key_lost.
  void async_keys(Executor executor, Handler<PublicKeys> done);
  void async_info(Executor executor, Handler<Info> done);
  void async_load_key(Bytes blob, Executor executor, Handler<TransientKey> done);
  void async_persist_key(TransientKey key, Executor executor, Handler<ImportedKey> done);
  void async_sign(SigningKey key, Bytes data, Executor executor, Handler<Sha256Digest> done);
  void async_describe(Executor executor, Handler<Description> done);
  // Flushes `key` if it is still loaded; nobody waits for it and a failure changes nothing.
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
  void post(std::function<T(Device&)> job, Executor executor, Handler<T> done);
  void enqueue(std::function<void(bool cancelled)> task);
  void run();

  Options options_;
  std::unique_ptr<Device> device_;  // touched only on the thread

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void(bool cancelled)>> queue_;
  bool stopping_ = false;
  Snapshot snapshot_;
  std::thread thread_;
};

}  // namespace edgeprov::tpm
