// A fixed pool of threads for handler code that may block (tools that sleep, wait for the
// client, read files). The queue is bounded so a flood of calls cannot grow memory without
// limit: post() reports refusal and the caller answers "busy".
#pragma once

#include <condition_variable>
#include <cstddef>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace bastion::core {

// What a job carries from the thread that posted it: the request it works for, opaque here.
// Telemetry puts the request's record in it, so that outbound calls a pool job makes (a JWKS
// fetch, an introspection) are traced as part of the request that needed them. `kind` tells
// whose value it is: a reader compares it with its own tag before using `value`.
struct TaskContext {
  const void* kind = nullptr;
  std::shared_ptr<void> value;
};
// This thread's context (empty unless a TaskContextScope is open).
const TaskContext& current_task_context();
// Sets this thread's context for its lifetime, then restores the previous one.
class TaskContextScope {
 public:
  explicit TaskContextScope(TaskContext context);
  ~TaskContextScope();
  TaskContextScope(const TaskContextScope&) = delete;
  TaskContextScope& operator=(const TaskContextScope&) = delete;

 private:
  TaskContext previous_;
};

class WorkerPool {
 public:
  WorkerPool(std::size_t threads, std::size_t max_queued);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False when the queue is full or the pool is stopping. The job runs in the poster's
  // TaskContext.
  bool post(std::function<void()> job);
  // Finishes queued jobs, then joins the threads.
  void stop();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> jobs_;
  std::size_t max_queued_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// One thread that runs callbacks at deadlines (request timeouts, session reaping).
class TimerQueue {
 public:
  using Clock = std::chrono::steady_clock;
  TimerQueue();
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Returns an id usable with cancel(). Callbacks run on the timer thread and must be short.
  std::uint64_t schedule(Clock::time_point when, std::function<void()> callback);
  void cancel(std::uint64_t id);
  void stop();

 private:
  void run();

  std::mutex mutex_;
  std::condition_variable wake_;
  std::multimap<Clock::time_point, std::pair<std::uint64_t, std::function<void()>>> timers_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace bastion::core
