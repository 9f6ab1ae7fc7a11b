// tpm/job_queue.h — the TPM worker's queue: work is taken by priority, so provisioning and signing
// never wait behind what a local user asked for, and each priority has a fixed capacity, so nobody can
// grow the queue without end: a job that finds its share full is refused, never queued. Pure: no
// threads, no TPM; tpm::Worker holds it under its mutex.
#pragma once
#include <array>
#include <cstddef>
#include <deque>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace edgeprov::tpm {

// Highest first. A running TPM command is never interrupted: a job of higher priority waits at most for
// the one command sequence in progress.
enum class Priority {
  credential,     // provisioning (EK/SRK, key import, DPS signatures) and signing for identity.* callers
  administrator,  // what an administrator asks for (tpm.info read afresh)
  local_user,     // what any local user may cause (refreshing tpm.info's cached description)
};
inline constexpr std::size_t priority_count = 3;

inline std::string_view to_string(Priority priority) {
  switch (priority) {
    case Priority::credential: return "provisioning and signing";
    case Priority::administrator: return "administrator";
    case Priority::local_user: return "local user";
  }
  return "local user";
}

// How many jobs of each priority may wait (the one running is not counted). Provisioning queues one
// thing at a time and identity.* callers are bounded by the IPC admission limits; these bounds are the
// last line, far above what a working device reaches.
struct QueueCapacity {
  std::size_t credential = 256;
  std::size_t administrator = 32;
  std::size_t local_user = 4;
  std::size_t of(Priority priority) const {
    switch (priority) {
      case Priority::credential: return credential;
      case Priority::administrator: return administrator;
      case Priority::local_user: return local_user;
    }
    return 0;
  }
};

template <typename Job>
class JobQueue {
 public:
  explicit JobQueue(QueueCapacity capacity = {}) : capacity_(capacity) {}

  // Queues `job` behind the jobs of its priority. false when that priority is at its capacity: then
  // `job` is left as it was, for the caller to answer.
  bool push(Priority priority, Job& job) {
    auto& lane = lanes_[index(priority)];
    if (lane.size() >= capacity_.of(priority)) return false;
    lane.push_back(std::move(job));
    return true;
  }

  // Queues `job` whatever its priority's capacity: only for work that gives the TPM something back
  // (flushing a loaded key), which a full queue must not make the TPM keep.
  void push_always(Priority priority, Job job) { lanes_[index(priority)].push_back(std::move(job)); }

  // The oldest job of the highest priority that has one.
  std::optional<Job> pop() {
    for (auto& lane : lanes_) {
      if (lane.empty()) continue;
      Job job = std::move(lane.front());
      lane.pop_front();
      return job;
    }
    return std::nullopt;
  }

  // Every job, in the order pop() would give them; the queue is left empty.
  std::vector<Job> drain() {
    std::vector<Job> all;
    while (auto job = pop()) all.push_back(std::move(*job));
    return all;
  }

  bool empty() const {
    for (const auto& lane : lanes_)
      if (!lane.empty()) return false;
    return true;
  }
  std::size_t size(Priority priority) const { return lanes_[index(priority)].size(); }
  const QueueCapacity& capacity() const { return capacity_; }

 private:
  static std::size_t index(Priority priority) { return static_cast<std::size_t>(priority); }
  QueueCapacity capacity_;
  std::array<std::deque<Job>, priority_count> lanes_;
};

}  // namespace edgeprov::tpm
