#include "core/worker_pool.hpp"
#include "core/thread_name.hpp"

namespace bastion::core {

WorkerPool::WorkerPool(std::size_t threads, std::size_t max_queued) : max_queued_(max_queued) {
  if (threads == 0) threads = 1;
  threads_.reserve(threads);
  for (std::size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this] {
      name_this_thread("bastion-worker");
      run();
    });
}

WorkerPool::~WorkerPool() { stop(); }

namespace {
thread_local TaskContext tl_task_context;
}  // namespace

const TaskContext& current_task_context() { return tl_task_context; }

TaskContextScope::TaskContextScope(TaskContext context) : previous_(std::move(tl_task_context)) {
  tl_task_context = std::move(context);
}

TaskContextScope::~TaskContextScope() { tl_task_context = std::move(previous_); }

bool WorkerPool::post(std::function<void()> job) {
  if (tl_task_context.kind)
    job = [context = tl_task_context, job = std::move(job)] {
      TaskContextScope scope(context);
      job();
    };
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || jobs_.size() >= max_queued_) return false;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
  return true;
}

void WorkerPool::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ && threads_.empty()) return;
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  threads_.clear();
}

void WorkerPool::run() {
  for (;;) {
    std::function<void()> job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping and drained
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

TimerQueue::TimerQueue()
    : thread_([this] {
        name_this_thread("bastion-timers");
        run();
      }) {}

TimerQueue::~TimerQueue() { stop(); }

std::uint64_t TimerQueue::schedule(Clock::time_point when, std::function<void()> callback) {
  std::uint64_t id;
  {
    std::lock_guard lock(mutex_);
    id = next_id_++;
    timers_.emplace(when, std::make_pair(id, std::move(callback)));
  }
  wake_.notify_one();
  return id;
}

void TimerQueue::cancel(std::uint64_t id) {
  std::lock_guard lock(mutex_);
  for (auto it = timers_.begin(); it != timers_.end(); ++it) {
    if (it->second.first == id) {
      timers_.erase(it);
      return;
    }
  }
}

void TimerQueue::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void TimerQueue::run() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (timers_.empty()) {
      wake_.wait(lock);
      continue;
    }
    auto first = timers_.begin();
    if (first->first > Clock::now()) {
      wake_.wait_until(lock, first->first);
      continue;
    }
    auto callback = std::move(first->second.second);
    timers_.erase(first);
    lock.unlock();
    callback();
    lock.lock();
  }
}

}  // namespace bastion::core
