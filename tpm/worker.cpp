#include "tpm/worker.h"

#include <boost/asio/post.hpp>

#include <future>

namespace edgeprov::tpm {

Worker::Worker(Options options) : options_(std::move(options)) {
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

void Worker::enqueue(std::function<void(bool)> task) {
  {
    std::lock_guard lock(mutex_);
    if (!stopping_) {
      queue_.push_back(std::move(task));
      task = nullptr;
    }
  }
  if (task) {
    task(true);
    return;
  }
  wake_.notify_one();
}

void Worker::run() {
  for (;;) {
    std::function<void(bool)> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) break;
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task(false);
  }
  std::deque<std::function<void(bool)>> left;
  {
    std::lock_guard lock(mutex_);
    left.swap(queue_);
  }
  for (auto& task : left) task(true);
  device_.reset();
}

template <typename T>
Result<T> Worker::execute(const std::function<T(Device&)>& job) {
  auto record = [&](const std::optional<Error>& error) {
    std::lock_guard lock(mutex_);
    snapshot_.available = !error || (error->kind() != ErrorKind::connection &&
                                     error->kind() != ErrorKind::device_missing &&
                                     error->kind() != ErrorKind::permission_denied);
    snapshot_.last_error = error ? std::optional<std::string>(error->what()) : std::nullopt;
  };
  // A connection that broke is replaced once per call: a restarted simulator or a reset device is
  // usable again at once, and a TPM that stays away gives a connect error rather than a stale one.
  for (int attempt = 0;; ++attempt) {
    try {
      if (!device_) {
        device_ = std::make_unique<Device>(options_);
        std::lock_guard lock(mutex_);
        ++snapshot_.connects;
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
  enqueue([&](bool cancelled) {
    if (cancelled) {
      promise.set_value(Error(ErrorKind::tpm, "use the TPM", 0, "the TPM worker is stopping", ""));
      return;
    }
    promise.set_value(execute(job));
  });
  return future.get().value();
}

template <typename T>
void Worker::post(std::function<T(Device&)> job, Executor executor, Handler<T> done) {
  enqueue([this, job = std::move(job), executor, done = std::move(done)](bool cancelled) {
    Result<T> result = cancelled ? Result<T>(Error(ErrorKind::tpm, "use the TPM", 0, "the TPM worker stopped", ""))
                                 : execute(job);
    boost::asio::post(executor, [done, result = std::move(result)]() mutable { done(std::move(result)); });
  });
}

// Each operation as a job for the TPM thread, noting what `status` may show without asking the TPM.
std::function<PublicKeys(Device&)> Worker::keys_job() {
  return [this](Device& d) {
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
    Description out{d.keys(), d.info()};
    std::lock_guard lock(mutex_);
    snapshot_.registration_id = out.keys.registration_id;
    snapshot_.auth_key_present = out.info.auth_key_present;
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
  post(keys_job(), std::move(executor), std::move(done));
}
void Worker::async_info(Executor executor, Handler<Info> done) {
  post(info_job(), std::move(executor), std::move(done));
}
void Worker::async_load_key(Bytes blob, Executor executor, Handler<TransientKey> done) {
  post(load_job(std::move(blob)), std::move(executor), std::move(done));
}
void Worker::async_persist_key(TransientKey key, Executor executor, Handler<ImportedKey> done) {
  post(persist_job(key), std::move(executor), std::move(done));
}
void Worker::async_describe(Executor executor, Handler<Description> done) {
  post(describe_job(), std::move(executor), std::move(done));
}
void Worker::async_sign(SigningKey key, Bytes data, Executor executor, Handler<Sha256Digest> done) {
  post(sign_job(key, std::move(data)), std::move(executor), std::move(done));
}

// Not through execute(): a flush must not open a connection (a new one has nothing to flush), nor count
// as the TPM answering or failing in the snapshot.
void Worker::flush_key(TransientKey key) {
  enqueue([this, key](bool cancelled) {
    if (!cancelled && device_) device_->flush_key(key);
  });
}

Worker::Snapshot Worker::snapshot() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

}  // namespace edgeprov::tpm
