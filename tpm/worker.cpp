#include "tpm/worker.h"

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <future>

namespace edgeprov::tpm {

namespace {

Error stopping_error() { return Error(ErrorKind::tpm, "use the TPM", 0, "the TPM worker is stopping", ""); }

Error queue_full(Priority priority, std::size_t capacity) {
  return Error(ErrorKind::busy, "queue TPM work", 0,
               fmt::format("the TPM queue for {} work is full ({} waiting)", to_string(priority), capacity),
               "retry in a moment; the TPM is busy with work queued before this");
}

}  // namespace

Worker::Worker(Options options, QueueCapacity capacity) : options_(std::move(options)), queue_(capacity) {
  if (options_.tcti.empty()) options_.tcti = default_tcti();
  if (options_.config_file.empty()) options_.config_file = default_config_file();
  snapshot_.tcti = options_.tcti;
  thread_ = std::thread([this] { run(); });
}

Worker::~Worker() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Worker::enqueue(Priority priority, Task task, Bound bound) {
  std::optional<Error> refused;
  {
    std::lock_guard lock(mutex_);
    if (stopping_) {
      refused = stopping_error();
    } else if (bound == Bound::never_refused) {
      queue_.push_always(priority, std::move(task));
    } else if (!queue_.push(priority, task)) {
      refused = queue_full(priority, queue_.capacity().of(priority));
    }
  }
  if (refused) {
    task(&*refused);
    return;
  }
  wake_.notify_one();
}

void Worker::run() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      task = std::move(*queue_.pop());
    }
    task(nullptr);
  }
  std::vector<Task> left;
  {
    std::lock_guard lock(mutex_);
    left = queue_.drain();
  }
  const Error stopped = stopping_error();
  for (auto& task : left) task(&stopped);
  device_.reset();
}

void Worker::changed() {
  std::lock_guard lock(mutex_);
  ++generation_;
}

template <typename T>
Result<T> Worker::execute(const std::function<T(Device&)>& job) {
  auto record = [&](const std::optional<Error>& error) {
    std::lock_guard lock(mutex_);
    snapshot_.available = !error || (error->kind() != ErrorKind::connection &&
                                     error->kind() != ErrorKind::device_missing &&
                                     error->kind() != ErrorKind::permission_denied);
    snapshot_.last_error = error ? std::optional<std::string>(error->what()) : std::nullopt;
    // A failed command may have moved what describe() reads (the lockout counter, a half-done import).
    if (error) ++generation_;
  };
  // A connection that broke is replaced once per call: a restarted simulator or a reset device is
  // usable again at once, and a TPM that stays away gives a connect error rather than a stale one.
  for (int attempt = 0;; ++attempt) {
    try {
      if (!device_) {
        device_ = std::make_unique<Device>(options_);
        std::lock_guard lock(mutex_);
        ++snapshot_.connects;
        ++generation_;  // perhaps another TPM, or the same one after a reset
      }
      Result<T> result = job(*device_);
      record(std::nullopt);
      return result;
    } catch (const Error& e) {
      if (e.kind() == ErrorKind::connection && device_) {
        device_.reset();
        if (attempt == 0) continue;
      }
      record(e);
      return e;
    } catch (const std::exception& e) {
      Error error(ErrorKind::tpm, "use the TPM", 0, e.what(), "");
      record(error);
      return error;
    }
  }
}

template <typename T>
T Worker::call(std::function<T(Device&)> job) {
  std::promise<Result<T>> promise;
  auto future = promise.get_future();
  enqueue(Priority::credential, [&](const Error* refused) {
    promise.set_value(refused ? Result<T>(*refused) : execute(job));
  });
  return future.get().value();
}

template <typename T>
void Worker::post(Priority priority, std::function<T(Device&)> job, Executor executor, Handler<T> done) {
  enqueue(priority, [this, job = std::move(job), executor, done = std::move(done)](const Error* refused) {
    Result<T> result = refused ? Result<T>(*refused) : execute(job);
    boost::asio::post(executor, [done, result = std::move(result)]() mutable { done(std::move(result)); });
  });
}

// Each operation as a job for the TPM thread, noting what `status` may show without asking the TPM.
std::function<PublicKeys(Device&)> Worker::keys_job() {
  return [this](Device& d) {
    changed();  // keys() creates the EK or SRK when absent
    auto keys = d.keys();
    std::lock_guard lock(mutex_);
    snapshot_.registration_id = keys.registration_id;
    return keys;
  };
}

std::function<Info(Device&)> Worker::info_job() {
  return [this](Device& d) {
    auto info = d.info();
    std::lock_guard lock(mutex_);
    snapshot_.auth_key_present = info.auth_key_present;
    return info;
  };
}

std::function<TransientKey(Device&)> Worker::load_job(Bytes blob) {
  return [blob = std::move(blob)](Device& d) { return d.load_key(blob); };
}

std::function<ImportedKey(Device&)> Worker::persist_job(TransientKey key) {
  return [this, key](Device& d) {
    changed();  // the authentication key is replaced (or, on failure, may have been evicted)
    auto persisted = d.persist_key(key);
    std::lock_guard lock(mutex_);
    snapshot_.auth_key_present = true;
    return persisted;
  };
}

std::function<Sha256Digest(Device&)> Worker::sign_job(SigningKey key, Bytes data) {
  return [key, data = std::move(data)](Device& d) { return d.sign(key, data); };
}

std::function<Description(Device&)> Worker::describe_job() {
  return [this](Device& d) {
    Description out{d.keys(), d.info(), std::chrono::system_clock::now()};
    std::lock_guard lock(mutex_);
    snapshot_.registration_id = out.keys.registration_id;
    snapshot_.auth_key_present = out.info.auth_key_present;
    // Whoever asked, a fresh description is what local users are shown next. Jobs run one at a time on
    // this thread, so nothing moved generation_ between the reads above and here.
    cached_ = out;
    cached_at_ = std::chrono::steady_clock::now();
    cached_generation_ = generation_;
    return out;
  };
}

PublicKeys Worker::keys() { return call(keys_job()); }
Info Worker::info() { return call(info_job()); }
TransientKey Worker::load_key(Bytes blob) { return call(load_job(std::move(blob))); }
ImportedKey Worker::persist_key(TransientKey key) { return call(persist_job(key)); }
Sha256Digest Worker::sign(SigningKey key, Bytes data) { return call(sign_job(key, std::move(data))); }
Description Worker::describe() { return call(describe_job()); }

void Worker::async_keys(Executor executor, Handler<PublicKeys> done) {
  post(Priority::credential, keys_job(), std::move(executor), std::move(done));
}
void Worker::async_info(Executor executor, Handler<Info> done, Priority priority) {
  post(priority, info_job(), std::move(executor), std::move(done));
}
void Worker::async_load_key(Bytes blob, Executor executor, Handler<TransientKey> done) {
  post(Priority::credential, load_job(std::move(blob)), std::move(executor), std::move(done));
}
void Worker::async_persist_key(TransientKey key, Executor executor, Handler<ImportedKey> done) {
  post(Priority::credential, persist_job(key), std::move(executor), std::move(done));
}
void Worker::async_describe(Executor executor, Handler<Description> done, Priority priority) {
  post(priority, describe_job(), std::move(executor), std::move(done));
}
void Worker::async_sign(SigningKey key, Bytes data, Executor executor, Handler<Sha256Digest> done) {
  post(Priority::credential, sign_job(key, std::move(data)), std::move(executor), std::move(done));
}

// Not through execute(): a flush must not open a connection (a new one has nothing to flush), nor count
// as the TPM answering or failing in the snapshot.
void Worker::flush_key(TransientKey key) {
  enqueue(Priority::credential, [this, key](const Error* refused) {
    if (!refused && device_) device_->flush_key(key);
  }, Bound::never_refused);
}

void Worker::async_cached_description(Executor executor, Handler<Description> done) {
  auto deliver = [executor, done = std::move(done)](Result<Description> result) {
    boost::asio::post(executor, [done, result = std::move(result)]() mutable { done(std::move(result)); });
  };
  bool start_refresh = false;
  {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    if (cached_ && cached_generation_ == generation_ && now - cached_at_ < description_max_age) {
      deliver(*cached_);
      return;
    }
    if (refresh_error_ && now - refresh_error_at_ < failed_description_hold) {
      deliver(*refresh_error_);
      return;
    }
    if (refresh_waiters_.size() >= max_description_waiters) {
      deliver(Error(ErrorKind::busy, "queue TPM work", 0,
                    fmt::format("{} callers already wait for the TPM description", max_description_waiters),
                    "retry in a moment"));
      return;
    }
    start_refresh = refresh_waiters_.empty();
    refresh_waiters_.push_back(std::move(deliver));
  }
  if (!start_refresh) return;  // joins the refresh already queued or running
  enqueue(Priority::local_user, [this](const Error* refused) {
    finish_refresh(refused ? Result<Description>(*refused) : execute(describe_job()));
  });
}

void Worker::finish_refresh(const Result<Description>& result) {
  std::vector<std::function<void(Result<Description>)>> waiters;
  {
    std::lock_guard lock(mutex_);
    waiters.swap(refresh_waiters_);
    // A full queue is not the TPM failing: the next caller may try again at once.
    if (!result.ok() && result.error().kind() != ErrorKind::busy) {
      refresh_error_ = result.error();
      refresh_error_at_ = std::chrono::steady_clock::now();
    } else {
      refresh_error_.reset();
    }
  }
  for (auto& waiter : waiters) waiter(result);
}

Worker::Snapshot Worker::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

}  // namespace edgeprov::tpm
